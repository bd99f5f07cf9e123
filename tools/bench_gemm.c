// Single-thread timing of skipstep's packed-weight GEMM (Sources/CKernels/gemm.c) against OpenBLAS's
// cblas_sgemm on the same M × K · K × N product, 5 interleaved rounds (docs/PERFORMANCE.md).
//   clang -O2 -o /tmp/bench_gemm tools/bench_gemm.c Sources/CKernels/gemm.c -ISources/CKernels/include -lopenblas
//   OPENBLAS_NUM_THREADS=1 /tmp/bench_gemm 256 256 256 50     # M K N repetitions
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <cblas.h>
long skipstep_gemm_packed_a_floats(long m, long k);
void skipstep_gemm_pack_a(const float *a, long lda, long m, long k, float *packed);
void skipstep_gemm_packed_avx2(long m, long k, const float *packed_a, const float *b, long ldb, long n0, long n1, float *c, long ldc, int accumulate);
static double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
int main(int argc,char**argv){
  long M=atol(argv[1]),K=atol(argv[2]),N=atol(argv[3]); int reps=atoi(argv[4]);
  float*a=malloc(M*K*4),*b=malloc(K*N*4),*c=malloc(M*N*4),*p=malloc(skipstep_gemm_packed_a_floats(M,K)*4);
  for(long i=0;i<M*K;i++)a[i]=rand()/(float)RAND_MAX; for(long i=0;i<K*N;i++)b[i]=rand()/(float)RAND_MAX;
  skipstep_gemm_pack_a(a,K,M,K,p);
  for(int round=0;round<5;round++){
    double t0=now(); for(int r=0;r<reps;r++) skipstep_gemm_packed_avx2(M,K,p,b,N,0,N,c,N,0); double t1=now();
    for(int r=0;r<reps;r++) cblas_sgemm(CblasRowMajor,CblasNoTrans,CblasNoTrans,M,N,K,1,a,K,b,N,0,c,N); double t2=now();
    double f=2.0*M*N*K*reps/1e9; printf("ours %.1f GFLOP/s  openblas %.1f GFLOP/s  ratio %.2f\n", f/(t1-t0), f/(t2-t1), (t2-t1)/(t1-t0));
  }
}
