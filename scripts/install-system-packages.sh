#!/usr/bin/env bash
# Installs the Debian packages Parcours needs: LibreOffice Writer (no GUI) with its Python bridge,
# fonts for French documents, poppler-utils (pdftoppm, pdftotext, pdfsig), libnss3-tools (certutil,
# for pdfsig's trust check of evidence bundles), Chromium for the browser tests (driven by Playwright, which cannot download its own browser here) and Python's venv.
# Needs root: run as root or through sudo (the script calls sudo itself when it is not root).
set -euo pipefail

packages=(
  libreoffice-writer-nogui python3-uno
  fonts-liberation2 fonts-dejavu-core fonts-crosextra-carlito fonts-crosextra-caladea
  poppler-utils qpdf libnss3-tools fontconfig
  chromium
  python3-venv
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "Installing ${missing[*]} needs root: run as root or install sudo." >&2; exit 1; }
  sudo="sudo"
fi
echo "Installing Debian packages: ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
