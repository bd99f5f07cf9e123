// zlib (Debian zlib1g-dev): gzip reading for IDX files, deflate and CRC-32 for PNG.
#include <zlib.h>
