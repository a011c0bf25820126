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


def panel_titles(fig) -> dict[str, str]:
    """Visible panel title -> its colour (hex)."""
    return {ax.get_title(): to_hex(ax.title.get_color()) for ax in fig.axes if ax.get_visible()}


def edge_colours(ax) -> set[str]:
    return {to_hex(p.get_edgecolor()) for p in ax.patches}


def test_waits_door_to_door_occupancy_and_fleet_state_use_the_mode_colours():
    tables = sample_tables()
    runs = [("a", tables), ("b", tables)]
    shuttle, bike = mode_colour("shuttle"), mode_colour("bike")
    # waits and door-to-door: one panel per mode, titled and drawn in the mode's colour
    for chart in (plots.wait_chart(runs), plots.door_to_door_chart(runs)):
        titles = panel_titles(chart)
        assert titles[mode_name("shuttle")] == shuttle and titles[mode_name("bike")] == bike
        panel = next(ax for ax in chart.axes if ax.get_title() == mode_name("shuttle"))
        assert edge_colours(panel) == {shuttle}
        dashes = [patch.get_linestyle()[1] for patch in panel.patches]
        assert dashes[0] is None and dashes[1]  # the runs told apart by line style
    d2d = panel_titles(plots.door_to_door_chart(runs))
    assert d2d[mode_name("car")] == mode_colour("car")  # every served mode has a panel
    # occupancy: one panel per service (service "bikes" carries mode "bike"), shades of the colour
    occupancy = plots.occupancy_chart(runs)
    assert panel_titles(occupancy) == {"shuttle": shuttle, "bikes": bike}
    panel = next(ax for ax in occupancy.axes if ax.get_title() == "shuttle")
    assert to_hex(panel.patches[-1].get_facecolor()) == shuttle  # 4+ on board: the full colour
    # fleet state: small multiples per service, titles in the mode's colour
    fleet = panel_titles(plots.fleet_state_chart("a", tables))
    assert fleet == {"bikes": bike, "drt": mode_colour("drt"), "shuttle": shuttle}


def test_service_modes_maps_a_service_to_its_trips_mode():
    assert plots.service_modes(sample_tables()) == {
        "bikes": "bike", "car": "car", "shuttle": "shuttle", "walk": "walk",
    }  # fmt: skip
