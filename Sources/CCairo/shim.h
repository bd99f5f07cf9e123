// cairo (Debian libcairo2-dev): plots and labelled grids drawn once, written as PNG, SVG or PDF;
// text through fontconfig's default sans-serif face (DejaVu Sans on Debian, fonts-dejavu-core).
#include <cairo/cairo.h>
#include <cairo/cairo-svg.h>
#include <cairo/cairo-pdf.h>
