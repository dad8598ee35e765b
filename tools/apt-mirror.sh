# Sourced (`. tools/apt-mirror.sh`, from the source tree) by the scripts that run mmdebstrap
# (tools/armhf-sysroot.sh, tools/vm/armhf-root.sh), with SUITE set. Sets MIRROR: the Debian
# archive apt already uses for SUITE main (ARMHF_MIRROR overrides): a machine that can reach only
# its configured mirror can reach this one. mmdebstrap's apt does not read the host's apt.conf,
# but it does read http_proxy: a proxy configured there is exported.
MIRROR=${ARMHF_MIRROR:-$(apt-get indextargets --no-release-info \
    --format '$(RELEASE) $(COMPONENT) $(SITE)' 2>/dev/null |
    awk -v s="$SUITE" '$1 == s && $2 == "main" { print $3; exit }')}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
PROXY=$(apt-config dump --format '%v%n' Acquire::http::Proxy 2>/dev/null | head -n 1)
case $PROXY in '' | DIRECT) ;; *) export http_proxy="$PROXY" ;; esac
