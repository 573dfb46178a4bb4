// OpenBLAS's CBLAS interface; pkg-config puts openblas-pthread/ on the include path.
#include <cblas.h>
