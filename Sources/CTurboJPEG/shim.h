// libjpeg-turbo's TurboJPEG API (Debian libturbojpeg0-dev): JPEG decoding for eval's image folders.
#include <turbojpeg.h>
