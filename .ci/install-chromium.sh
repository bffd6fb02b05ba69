#!/usr/bin/env bash
# Installs Debian's chromium (and a Japanese font) for the headless-browser FAQ test
# (tests/faq.rs) when missing. Safe to run repeatedly.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
# without a CJK font, Japanese renders as boxes in screenshots
if ! fc-list 2>/dev/null | grep -qi 'Noto Sans CJK'; then need+=(fonts-noto-cjk); fi
if [ ${#need[@]} -gt 0 ]; then
  apt-get update
  apt-get install -y --no-install-recommends "${need[@]}"
fi
command -v chromium
