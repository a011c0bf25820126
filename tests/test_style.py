"""Fixed mode colours and friendly names: one mode, one colour, in every chart that shows modes."""

from __future__ import annotations

from matplotlib.colors import to_hex

from mobisim.results import plots
from mobisim.results.style import mode_colour, mode_name, ordered_modes
from test_kpis_sample import sample_tables


def legend_colours(fig) -> dict[str, str]:
    """Legend label -> face colour of its patch, read from the figure's artists."""
    legend = fig.axes[0].get_legend()
    return {
        text.get_text(): to_hex(handle.get_facecolor())
        for text, handle in zip(legend.get_texts(), legend.legend_handles, strict=True)
    }


def bar_colours(fig) -> set[str]:
    return {to_hex(p.get_facecolor()) for p in fig.axes[0].patches}


def test_a_mode_has_the_same_colour_in_two_charts():
    tables = sample_tables()
    share = plots.mode_share_chart([("a", tables), ("b", tables)])
    by_hour = plots.trips_by_hour_chart("a", tables)
    in_share, in_hour = legend_colours(share), legend_colours(by_hour)
    for mode in ("shuttle", "walk", "car", "bike", "unserved"):
        name = mode_name(mode)
        assert in_share[name] == in_hour[name] == mode_colour(mode), mode
    # the drawn bars carry those colours (not only the legend)
    assert mode_colour("shuttle") in bar_colours(share) & bar_colours(by_hour)
    assert len({in_share[mode_name(m)] for m in ("shuttle", "walk", "car", "bike")}) == 4


def test_friendly_names_and_stable_colours_for_unknown_modes():
    assert mode_name("drt") == "On-demand bus (DRT)"
    assert mode_name("cable_car") == "Cable car"
    assert mode_colour("cable_car") == mode_colour("cable_car")
    assert ordered_modes({"zeta", "unserved", "walk", "drt"}) == ["walk", "drt", "unserved", "zeta"]
