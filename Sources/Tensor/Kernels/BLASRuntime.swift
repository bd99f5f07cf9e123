import CBLAS
import Foundation

/// OpenBLAS reads two settings from the environment only when the library loads, so a program
/// that wants them sets them and re-executes itself once (the CLI does, in
/// Sources/skipstep/EngineSetup.swift, with `settings(environment:)`; this module reads no
/// environment variable itself):
///
/// - Its kernels. Debian's 0.3.21 does not recognise some newer AVX-512 Xeons and falls back to a
///   generic SSE3 kernel ("Prescott"), 4–7× slower (dgemm 29 vs 121 GFLOP/s measured on
///   1000×784×784 products); `OPENBLAS_CORETYPE` picks the right family.
/// - How long its idle worker threads spin (calling `sched_yield`) before they sleep:
///   2^`OPENBLAS_THREAD_TIMEOUT` clock ticks, 2^28 (about 0.1 s) by default. The engine runs its
///   element-wise kernels on its own threads between GEMMs, on the same cores, so a spinning
///   OpenBLAS worker takes CPU from them: a quarter of the CPU time went to `sched_yield` in the
///   kernel (perf, fashion-ddpm at batch 250), and 2^4 made the forward pass 1.27× faster
///   (docs/PERFORMANCE.md).
public enum BLASRuntime {
    /// The kernel family OpenBLAS chose, e.g. "SkylakeX", "Haswell" or "Prescott".
    public static var coreName: String {
        guard let name = openblas_get_corename() else { return "unknown" }
        return String(cString: name)
    }

    /// The core type to ask for when OpenBLAS fell back to a generic kernel on a CPU that has
    /// AVX2 or AVX-512, else nil.
    public static func preferredCoreType(cpuFlags: Set<Substring>? = nil) -> String? {
        let generic: Set<String> = ["prescott", "core2", "katmai", "coppermine", "northwood", "banias", "atom", "unknown"]
        guard generic.contains(coreName.lowercased()) else { return nil }
        let flags = cpuFlags ?? Self.cpuFlags()
        if ["avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512cd"].allSatisfy(flags.contains) { return "SkylakeX" }
        if ["avx2", "fma"].allSatisfy(flags.contains) { return "Haswell" }
        return nil
    }

    /// The spin time of idle OpenBLAS threads skipstep asks for (log2 of clock ticks; OpenBLAS's
    /// smallest).
    public static let threadTimeout = "4"

    /// The environment variables to set before OpenBLAS loads, given the current environment:
    /// each one the user has not set and skipstep wants.
    public static func settings(environment: [String: String],
                                preferredCore: String? = preferredCoreType()) -> [(name: String, value: String)] {
        var out: [(name: String, value: String)] = []
        if environment["OPENBLAS_CORETYPE"] == nil, let core = preferredCore { out.append(("OPENBLAS_CORETYPE", core)) }
        if environment["OPENBLAS_THREAD_TIMEOUT"] == nil { out.append(("OPENBLAS_THREAD_TIMEOUT", threadTimeout)) }
        return out
    }

    static func cpuFlags() -> Set<Substring> {
        guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let line = info.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return [] }
        return Set(line.split(separator: " "))
    }
}
