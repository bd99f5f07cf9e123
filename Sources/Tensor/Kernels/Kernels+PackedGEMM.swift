import CKernels

/// `C = A·B` with the weights `A` packed once, by skipstep's own AVX2 + FMA kernel
/// (Sources/CKernels/gemm.c) on the kernel thread pool; OpenBLAS's `sgemm` on CPUs without AVX2.
///
/// Why not OpenBLAS everywhere: a UNet's GEMMs are small and many (16 per Winograd convolution).
/// OpenBLAS packs both operands on every call, spins its own threads between calls, and picks its
/// kernels from a CPU guess the environment may override (`OPENBLAS_CORETYPE`); packing the
/// weights once at load and running the column blocks on the pool the other kernels use removes
/// the packing, the beta pass and the spinning from the hot path.
extension Kernels {
    /// Whether GEMMs on packed weights use the AVX2 kernel (else OpenBLAS on the row-major copy).
    static var packedGEMMAvailable: Bool { hasAVX2FMA }

    /// Floats one packed `rows × columns` matrix takes (`PackedWeights` stores several back to back).
    static func packedFloats(rows: Int, columns: Int) -> Int {
        packedGEMMAvailable ? skipstep_gemm_packed_a_floats(rows, columns) : rows * columns
    }

    /// Writes row-major `a` (`rows × columns`, rows `lda` apart) into `packed` in the layout
    /// `packedGEMM` reads: 6-row panels on AVX2 machines, else row-major with `lda = columns`.
    static func packWeights(_ a: UnsafePointer<Float>, lda: Int, rows: Int, columns: Int, into packed: UnsafeMutablePointer<Float>) {
        if packedGEMMAvailable {
            skipstep_gemm_pack_a(a, lda, rows, columns, packed)
        } else {
            for r in 0..<rows { (packed + r * columns).update(from: a + r * lda, count: columns) }
        }
    }

    /// Columns `columns` of `C` (`rows × ·`, rows `ldc` apart) = packed `A` (`rows × depth`) ·
    /// `B` (`depth × ·`, rows `ldb` apart), plus `C` when `accumulate`; on the calling thread.
    @inline(__always)
    static func packedGEMMColumns(rows: Int, depth: Int, packed: UnsafePointer<Float>, b: UnsafePointer<Float>, ldb: Int,
                                  columns: Range<Int>, c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool) {
        if columns.isEmpty || rows == 0 { return }
        if packedGEMMAvailable {
            skipstep_gemm_packed_avx2(rows, depth, packed, b, ldb, columns.lowerBound, columns.upperBound, c, ldc,
                                      accumulate ? 1 : 0)
        } else {
            sgemm(m: rows, n: columns.count, k: depth, a: packed, lda: depth, b: b + columns.lowerBound, ldb: ldb,
                  beta: accumulate ? 1 : 0, c: c + columns.lowerBound, ldc: ldc)
        }
    }

    /// `C` (`rows × n`) = packed `A` (`rows × depth`) · `B` (`depth × n`) (+ `C` when `accumulate`),
    /// split by 16-column blocks over the kernel threads (OpenBLAS's own threads without AVX2).
    static func packedGEMM(rows: Int, depth: Int, packed: UnsafePointer<Float>, b: UnsafePointer<Float>, ldb: Int, n: Int,
                           c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool = false) {
        guard packedGEMMAvailable else {
            packedGEMMColumns(rows: rows, depth: depth, packed: packed, b: b, ldb: ldb, columns: 0..<n, c: c, ldc: ldc,
                              accumulate: accumulate)
            return
        }
        struct Job: RangeBody {
            let rows: Int, depth: Int, packed: UnsafePointer<Float>, b: UnsafePointer<Float>, ldb: Int
            let c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool
            func callAsFunction(_ columns: Range<Int>) {
                Kernels.packedGEMMColumns(rows: rows, depth: depth, packed: packed, b: b, ldb: ldb, columns: columns,
                                          c: c, ldc: ldc, accumulate: accumulate)
            }
        }
        // A chunk is worth a thread hand-off from about 2^15 multiply-adds.
        let perColumn = max(1, rows * depth)
        parallelChunks(count: n, minimumPerChunk: max(16, (1 << 15) / perColumn), alignment: 16,
                       Job(rows: rows, depth: depth, packed: packed, b: b, ldb: ldb, c: c, ldc: ldc, accumulate: accumulate))
    }
}
