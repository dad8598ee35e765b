# Sourced (`. tools/apt-mirror.sh`, from the source tree) by the scripts that run mmdebstrap
# (tools/armhf-sysroot.sh, tools/vm/armhf-root.sh), with SUITE set. Sets MIRROR: the Debian
# archive apt already uses for SUITE main (ARMHF_MIRROR overrides): a machine that can reach only
# its configured mirror can reach this one. A suite apt is not configured with (bullseye on a
# bookworm machine) comes from the same archive as apt's other Debian suites (not -security).
# mmdebstrap's apt does not read the host's apt.conf, but it does read http_proxy: a proxy
# configured there is exported.
MIRROR=${ARMHF_MIRROR:-$(apt-get indextargets --no-release-info \
    --format '$(RELEASE) $(COMPONENT) $(SITE)' 2>/dev/null |
    awk -v s="$SUITE" '$2 != "main" { next } $1 == s { print $3; found = 1; exit }
        $3 ~ /\/debian\/?$/ && !other { other = $3 } END { if (!found && other) print other }')}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
PROXY=$(apt-config dump --format '%v%n' Acquire::http::Proxy 2>/dev/null | head -n 1)
case $PROXY in '' | DIRECT) ;; *) export http_proxy="$PROXY" ;; esac
