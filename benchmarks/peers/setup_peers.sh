#!/usr/bin/env bash
# Create the peer simulators' virtual environments (pip only) under $PEERS_DIR
# (default /tmp/mobisim-peers): hive/ (NREL HIVE 1.3.1), maassim/ (MaaSSim 0.9.5 with the
# pins its 2021 code needs) and ridepy/ (ridepy 2.10.1 built from its sdist; needs a C++
# compiler and the Boost headers: on Debian/Ubuntu `apt-get install -y libboost-dev`).
# Usage: PEERS_DIR=/work/peers bash benchmarks/peers/setup_peers.sh [hive|maassim|ridepy ...]
set -euo pipefail
PEERS_DIR="${PEERS_DIR:-/tmp/mobisim-peers}"
PYTHON="${PYTHON:-python3.11}"
mkdir -p "$PEERS_DIR"

venv() {  # venv NAME: create $PEERS_DIR/NAME (once) with an up-to-date pip
    if [ ! -x "$PEERS_DIR/$1/bin/python" ]; then
        "$PYTHON" -m venv "$PEERS_DIR/$1"
        "$PEERS_DIR/$1/bin/pip" install -q --upgrade pip
    fi
}

setup_hive() {
    venv hive
    # networkx 3.4 changed node_link_graph's default key, which HIVE's network loader relies on
    "$PEERS_DIR/hive/bin/pip" install "nrel.hive==1.3.1" "networkx<3.4"
}

setup_maassim() {
    venv maassim
    "$PEERS_DIR/maassim/bin/pip" install numpy==1.23.5 pandas==1.5.3 networkx==2.8.8 \
        osmnx==1.1.2 shapely==1.8.5.post1 geopandas==0.12.2 simpy==4.0.1 scikit-learn==1.2.2 \
        matplotlib seaborn dotmap pulp
    # MaaSSim's and ExMAS's own pins conflict with the above; their code runs with these
    "$PEERS_DIR/maassim/bin/pip" install --no-deps maassim==0.9.5 exmas==0.9.99
}

setup_ridepy() {
    if ! [ -d /usr/include/boost ]; then
        echo "ridepy needs the Boost headers: apt-get install -y libboost-dev" >&2
        exit 1
    fi
    venv ridepy
    "$PEERS_DIR/ridepy/bin/pip" install "pandas<3" "ridepy==2.10.1"
}

targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(hive maassim ridepy)
for t in "${targets[@]}"; do
    echo "== $t -> $PEERS_DIR/$t"
    "setup_$t"
done
"$PEERS_DIR/hive/bin/python" -c "import nrel.hive" 2>/dev/null && echo "hive ok" || true
"$PEERS_DIR/maassim/bin/python" -c "import MaaSSim, ExMAS" 2>/dev/null && echo "maassim ok" || true
"$PEERS_DIR/ridepy/bin/python" -c "import ridepy.util.spaces_cython" 2>/dev/null && echo "ridepy ok" || true
