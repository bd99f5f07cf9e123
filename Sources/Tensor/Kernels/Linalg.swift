import CBLAS
import Foundation

/// Thin Float64 wrappers over OpenBLAS/LAPACK for row-major matrices.
///
/// Every wrapper checks the buffer sizes against the dimensions it is given (a mismatch is a
/// programmer error and traps), so callers never hand BLAS memory it may not touch. Results are
/// what the reference BLAS computes; nothing here reorders or approximates.
public enum Linalg {
    /// Whether an operand is used as stored or transposed (`op(A) = A` or `Aᵀ`).
    public enum Transpose: Sendable {
        case none
        case transpose

        var cblas: CBLAS_TRANSPOSE { self == .none ? CblasNoTrans : CblasTrans }
    }

    /// Threads OpenBLAS uses for one call (it starts with one per core).
    public static var blasThreads: Int {
        get { Int(openblas_get_num_threads()) }
    }

    /// Sets the number of threads OpenBLAS uses for each call.
    public static func setBLASThreads(_ count: Int) {
        precondition(count >= 1, "thread count must be positive")
        openblas_set_num_threads(Int32(clamping: count))
    }

    /// `C ← α·op(A)·op(B) + β·C` (BLAS `dgemm`, row-major), where `op(A)` is `m × k`,
    /// `op(B)` is `k × n` and `C` is `m × n`. Leading dimensions default to the packed row length.
    public static func gemm(
        _ transA: Transpose = .none, _ transB: Transpose = .none,
        m: Int, n: Int, k: Int,
        alpha: Double = 1, a: UnsafeBufferPointer<Double>, lda: Int? = nil,
        b: UnsafeBufferPointer<Double>, ldb: Int? = nil,
        beta: Double = 0, c: UnsafeMutableBufferPointer<Double>, ldc: Int? = nil
    ) {
        precondition(m >= 0 && n >= 0 && k >= 0, "negative dimension")
        // Stored shapes (row-major): A is m×k or k×m, B is k×n or n×k.
        let (aRows, aCols) = transA == .none ? (m, k) : (k, m)
        let (bRows, bCols) = transB == .none ? (k, n) : (n, k)
        let lda = lda ?? aCols, ldb = ldb ?? bCols, ldc = ldc ?? n
        checkOperand("A", rows: aRows, cols: aCols, ld: lda, count: a.count)
        checkOperand("B", rows: bRows, cols: bCols, ld: ldb, count: b.count)
        checkOperand("C", rows: m, cols: n, ld: ldc, count: c.count)
        if m == 0 || n == 0 { return }
        cblas_dgemm(CblasRowMajor, transA.cblas, transB.cblas,
                    blasInt(m), blasInt(n), blasInt(k),
                    alpha, a.baseAddress, blasInt(max(lda, 1)),
                    b.baseAddress, blasInt(max(ldb, 1)),
                    beta, c.baseAddress, blasInt(max(ldc, 1)))
    }

    /// `op(A)·op(B)` for packed row-major arrays; `op(A)` is `m × k`, `op(B)` is `k × n`.
    public static func matmul(
        _ a: [Double], _ transA: Transpose = .none, _ b: [Double], _ transB: Transpose = .none,
        m: Int, n: Int, k: Int
    ) -> [Double] {
        var c = [Double](repeating: 0, count: m * n)
        a.withUnsafeBufferPointer { a in
            b.withUnsafeBufferPointer { b in
                c.withUnsafeMutableBufferPointer { c in
                    gemm(transA, transB, m: m, n: n, k: k, a: a, b: b, c: c)
                }
            }
        }
        return c
    }

    /// The Gram matrix `C ← α·AᵀA + β·C` of a row-major `rows × cols` matrix `A` (BLAS `dsyrk`),
    /// `C` being `cols × cols`. BLAS fills one triangle; this mirrors it so `C` is fully symmetric.
    public static func gram(
        _ a: UnsafeBufferPointer<Double>, rows: Int, cols: Int,
        alpha: Double = 1, beta: Double = 0, into c: UnsafeMutableBufferPointer<Double>
    ) {
        precondition(rows >= 0 && cols >= 0, "negative dimension")
        checkOperand("A", rows: rows, cols: cols, ld: cols, count: a.count)
        checkOperand("C", rows: cols, cols: cols, ld: cols, count: c.count)
        if cols == 0 { return }
        // With `Trans`, CBLAS computes C = α·AᵀA + β·C for A stored row-major as k × n.
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, blasInt(cols), blasInt(rows),
                    alpha, a.baseAddress, blasInt(max(cols, 1)), beta, c.baseAddress, blasInt(cols))
        for i in 0..<cols {
            for j in 0..<i { c[i * cols + j] = c[j * cols + i] }
        }
    }

    /// Eigendecomposition `A = U·diag(λ)·Uᵀ` of a symmetric `n × n` matrix (LAPACK `dsyevd`,
    /// divide and conquer). Only the upper triangle of `a` (row-major) is read.
    ///
    /// - Returns: eigenvalues in ascending order and `U` row-major, its column `j`
    ///   (`vectors[i*n + j]`, i = 0..<n) the unit eigenvector of `values[j]`.
    public static func symmetricEigen(_ a: [Double], n: Int) throws -> SymmetricEigen {
        precondition(n >= 0 && a.count == n * n, "expected \(n)×\(n) = \(n * n) values, got \(a.count)")
        if n == 0 { return SymmetricEigen(values: [], vectors: []) }
        let (values, work) = try dsyevd(a, n: n, vectors: true)
        // LAPACK stores eigenvector j in column j, column-major: work[j*n + i]. Transpose to row-major.
        var vectors = [Double](repeating: 0, count: n * n)
        for j in 0..<n {
            for i in 0..<n { vectors[i * n + j] = work[j * n + i] }
        }
        return SymmetricEigen(values: values, vectors: vectors)
    }

    /// Eigenvalues (ascending) of a symmetric `n × n` matrix: LAPACK `dsyevd` with jobz = "N",
    /// several times cheaper than `symmetricEigen`, which computes vectors too. Only the upper
    /// triangle of `a` (row-major) is read.
    public static func symmetricEigenvalues(_ a: [Double], n: Int) throws -> [Double] {
        precondition(n >= 0 && a.count == n * n, "expected \(n)×\(n) = \(n * n) values, got \(a.count)")
        if n == 0 { return [] }
        return try dsyevd(a, n: n, vectors: false).values
    }

    /// LAPACK `dsyevd` (divide and conquer) on the lower triangle of column-major `a` (the upper
    /// triangle of row-major `a`): eigenvalues and the overwritten matrix (the eigenvectors,
    /// column-major, when `vectors`).
    private static func dsyevd(_ a: [Double], n: Int, vectors: Bool) throws -> (values: [Double], work: [Double]) {
        guard a.allSatisfy(\.isFinite) else { throw LinalgError.nonFinite(operation: "dsyevd", n: n) }
        var work = a
        var values = [Double](repeating: 0, count: n)
        var jobz = CChar(UInt8(ascii: vectors ? "V" : "N")), uplo = CChar(UInt8(ascii: "L"))
        var order = try blasIntChecked(n), lda = order, info: Int32 = 0
        // Workspace query (lwork = liwork = −1), then the real call.
        var lwork: Int32 = -1, liwork: Int32 = -1, workSize = 0.0, iworkSize: Int32 = 0
        dsyevd_(&jobz, &uplo, &order, &work, &lda, &values, &workSize, &lwork, &iworkSize, &liwork, &info)
        guard info == 0 else { throw LinalgError.lapack(routine: "dsyevd (workspace query)", info: Int(info), n: n) }
        lwork = Int32(workSize.rounded(.up))
        liwork = max(iworkSize, 1)
        var scratch = [Double](repeating: 0, count: Int(lwork))
        var iscratch = [Int32](repeating: 0, count: Int(liwork))
        dsyevd_(&jobz, &uplo, &order, &work, &lda, &values, &scratch, &lwork, &iscratch, &liwork, &info)
        guard info == 0 else { throw LinalgError.lapack(routine: "dsyevd", info: Int(info), n: n) }
        return (values, work)
    }

    private static func checkOperand(_ name: String, rows: Int, cols: Int, ld: Int, count: Int) {
        precondition(ld >= cols, "\(name): leading dimension \(ld) < \(cols) columns")
        let needed = rows == 0 || cols == 0 ? 0 : (rows - 1) * ld + cols
        precondition(count >= needed, "\(name): \(rows)×\(cols) (ld \(ld)) needs \(needed) values, buffer has \(count)")
    }

    private static func blasInt(_ value: Int) -> Int32 {
        guard let v = Int32(exactly: value) else { preconditionFailure("dimension \(value) exceeds BLAS's 32-bit int") }
        return v
    }

    private static func blasIntChecked(_ value: Int) throws -> Int32 {
        guard let v = Int32(exactly: value) else { throw LinalgError.dimensionTooLarge(value) }
        return v
    }
}

/// The result of `Linalg.symmetricEigen`: `A = U·diag(values)·Uᵀ`.
public struct SymmetricEigen: Sendable {
    /// Eigenvalues, ascending.
    public var values: [Double]
    /// `U`, row-major `n × n`; column `j` is the eigenvector of `values[j]`.
    public var vectors: [Double]
}

/// Failures of the LAPACK wrappers.
public enum LinalgError: Error, LocalizedError, Equatable {
    /// LAPACK returned `info ≠ 0` (negative: bad argument; positive: no convergence).
    case lapack(routine: String, info: Int, n: Int)
    /// The input contained NaN or ±∞.
    case nonFinite(operation: String, n: Int)
    /// A dimension does not fit LAPACK's 32-bit integers.
    case dimensionTooLarge(Int)

    public var errorDescription: String? {
        switch self {
        case let .lapack(routine, info, n):
            info < 0
                ? "\(routine) on a \(n)×\(n) matrix: argument \(-info) was invalid (info = \(info))"
                : "\(routine) on a \(n)×\(n) matrix failed to converge (info = \(info))"
        case let .nonFinite(operation, n):
            "\(operation): the \(n)×\(n) input contains NaN or infinity"
        case let .dimensionTooLarge(n):
            "dimension \(n) exceeds LAPACK's 32-bit integer range"
        }
    }
}
