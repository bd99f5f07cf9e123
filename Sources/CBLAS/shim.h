// OpenBLAS (Debian libopenblas-dev): CBLAS plus the few LAPACK routines we call.
#include <cblas.h>

// Threads used by OpenBLAS itself (we parallelise above it where that is faster).
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);

// LAPACK symmetric eigendecomposition (divide and conquer), Fortran ABI.
void dsyevd_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda,
             double *w, double *work, const int *lwork, int *iwork, const int *liwork, int *info);
