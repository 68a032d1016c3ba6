#!/usr/bin/env bash
# A notebook as an offline reveal.js slide deck, for presenting it:
#
#   environment/slides.sh NOTEBOOK.ipynb [OUT_DIR]      (default OUT_DIR: notebooks/out/slides)
#   environment/slides.sh --check DECK.html             (did reveal.js start, and how many slides? headless Chromium)
#
# The deck is nbconvert's slides export (`jupyter nbconvert --to slides`, Debian's jupyter-nbconvert) through the
# template in environment/slides/maskrcnn-reveal, which loads reveal.js and MathJax from the deck's folder instead of a
# CDN: the script installs reveal.js 6.0.2 and MathJax 3.2.2 once from the npm registry into the cache
# (${MASKRCNN_CACHE:-~/.cache/maskrcnn}/slides) and copies what the deck needs next to it (OUT_DIR/reveal.js,
# OUT_DIR/mathjax), so OUT_DIR can be carried to another machine and opened without a network.
# Which cells become slides, sub-slides and fragments, and which are skipped, is each cell's
# metadata.slideshow.slide_type (notebooks/01_rcnn_evolution.ipynb carries it). Open OUT_DIR/NAME.slides.html in a
# browser; press S for the speaker view, Esc for the overview.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REVEAL_VERSION=6.0.2
MATHJAX_VERSION=3.2.2

usage() { sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
need() { command -v "$1" >/dev/null || { echo "slides: $1 is not installed ($2)" >&2; exit 1; }; }

check() {
  # reveal.js sets data-reveal-ready on <body> to its slide count once it has laid the deck out (the template does).
  local deck=$1 dom count
  need chromium "apt-get install -y chromium"
  [ -f "$deck" ] || { echo "slides: $deck: no such file" >&2; exit 1; }
  dom=$(timeout 300 chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --disable-sync --no-first-run --hide-scrollbars --virtual-time-budget=20000 \
    --user-data-dir="$(mktemp -d)" --dump-dom "file://$(cd "$(dirname "$deck")" && pwd)/$(basename "$deck")" \
    2>/dev/null)
  count=$(grep -o 'data-reveal-ready="[0-9]*"' <<<"$dom" | grep -o '[0-9]*' | head -1 || true)
  if [ -z "$count" ]; then
    echo "slides: $deck: reveal.js did not start" >&2
    exit 1
  fi
  echo "reveal.js ready: $count slides in $deck"
}

[ $# -ge 1 ] || usage
if [ "$1" = "--check" ]; then
  [ $# -eq 2 ] || usage
  check "$2"
  exit 0
fi
case "$1" in -h|--help) usage ;; esac
notebook=$1
[ -f "$notebook" ] || { echo "slides: $notebook: no such file" >&2; exit 1; }
out=${2:-$root/notebooks/out/slides}
need jupyter-nbconvert "apt-get install -y jupyter-nbconvert"
need npm "apt-get install -y npm"

cache=${MASKRCNN_CACHE:-$HOME/.cache/maskrcnn}/slides
modules=$cache/node_modules
if [ ! -f "$modules/reveal.js/dist/reveal.js" ] || [ ! -f "$modules/mathjax/es5/tex-svg.js" ] \
  || ! grep -q "\"version\": \"$REVEAL_VERSION\"" "$modules/reveal.js/package.json"; then
  echo "slides: installing reveal.js $REVEAL_VERSION and MathJax $MATHJAX_VERSION from npm into $cache" >&2
  mkdir -p "$cache"
  npm install --prefix "$cache" --no-audit --no-fund --ignore-scripts --no-save --loglevel=error \
    "reveal.js@$REVEAL_VERSION" "mathjax@$MATHJAX_VERSION" >&2
fi

mkdir -p "$out/reveal.js" "$out/mathjax"
rm -rf "$out/reveal.js/dist"
cp -r "$modules/reveal.js/dist" "$out/reveal.js/dist"
cp "$modules/mathjax/es5/tex-svg.js" "$out/mathjax/tex-svg.js"
name=$(basename "$notebook" .ipynb)
jupyter-nbconvert --to slides "$notebook" --output-dir "$out" --output "$name" \
  --TemplateExporter.extra_template_basedirs="$root/environment/slides" --template maskrcnn-reveal \
  --SlidesExporter.reveal_url_prefix=reveal.js --SlidesExporter.mathjax_url=mathjax/tex-svg.js \
  --SlidesExporter.reveal_theme=white --SlidesExporter.reveal_transition=none --log-level=WARN
echo "$out/$name.slides.html"
