# Shared by scripts/test and scripts/test-matrix (sourced, not run): start a cluster of a given
# Ceph release and messenger mode on a free port, point the interop tests at it, and clean up.
#
#   start_cluster RELEASE MODE [KEYTYPE]   RELEASE: pacific (the host's Ceph), reef, tentacle;
#                                          MODE: default|crc|secure; KEYTYPE: default|aes|aes256k
#     sets CEPH_CONF (host path), and for chroot releases CEPH_TOOLS_CHROOT / CEPH_TOOLS_CONF
#     so the tests use that release's own tools as the reference
#   stop_clusters                          stops every cluster started so far (trap this)

CLUSTERS_STARTED=()

free_port() {
    local p
    for p in $(seq "$1" "$2"); do
        if ! ss -Hltn "sport = :$p" 2>/dev/null | grep -q .; then echo "$p"; return 0; fi
    done
    echo "no free port in $1-$2" >&2
    return 1
}

start_cluster() {
    local release=$1 mode=$2 key=${3:-default} port dir line
    port=$(free_port 3390 3499) || return 1
    dir=/tmp/rbd-rs-$release-$mode-$port
    local opts=(--mon-port "$port" --ms-mode "$mode" --key-type "$key")
    if [ "$release" = pacific ]; then
        line=$(scripts/ceph-cluster start "${opts[@]}" "$dir") || return 1
        CLUSTERS_STARTED+=("host:$dir")
        unset CEPH_TOOLS_CHROOT CEPH_TOOLS_CONF
    else
        scripts/ceph-chroot setup "$release" || return 1
        line=$(scripts/ceph-chroot start "$release" "${opts[@]}" "$dir") || return 1
        CLUSTERS_STARTED+=("$release:$dir")
        export CEPH_TOOLS_CHROOT=$release CEPH_TOOLS_CONF=$dir/ceph.conf
    fi
    export CEPH_CONF=${line#export CEPH_CONF=}
}

stop_clusters() {
    local c
    for c in "${CLUSTERS_STARTED[@]}"; do
        case $c in
            host:*) scripts/ceph-cluster wipe "${c#host:}" >/dev/null 2>&1 || true ;;
            *) scripts/ceph-chroot stop "${c%%:*}" "${c#*:}" >/dev/null 2>&1 || true ;;
        esac
    done
    CLUSTERS_STARTED=()
}
