import CBLAS
import Foundation

/// OpenBLAS picks its kernels when the library loads. Debian's 0.3.21 does not recognise some
/// newer AVX-512 Xeons and falls back to a generic SSE3 kernel ("Prescott"), 4–7× slower
/// (dgemm 29 vs 121 GFLOP/s measured on this machine's 1000×784×784 products). The kernel can
/// only be chosen through `OPENBLAS_CORETYPE` before the library loads, so a program that wants
/// the right one sets it and re-executes itself once (`selectKernelAndReexecIfNeeded`).
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

    /// Sets `OPENBLAS_CORETYPE` and replaces the process with a fresh copy of itself when OpenBLAS
    /// chose a generic kernel; returns normally otherwise (also when the variable is already set,
    /// so this happens at most once). Call it first thing in `main`.
    public static func selectKernelAndReexecIfNeeded() {
        #if os(Linux)
        guard ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] == nil,
              let core = preferredCoreType() else { return }
        setenv("OPENBLAS_CORETYPE", core, 1)
        let arguments = CommandLine.arguments
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) }
        argv.append(nil)
        execv("/proc/self/exe", &argv)
        // Only reached when exec failed: go on with the generic kernel.
        for pointer in argv { free(pointer) }
        #endif
    }

    static func cpuFlags() -> Set<Substring> {
        guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let line = info.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return [] }
        return Set(line.split(separator: " "))
    }
}
