import Foundation
import Tensor

/// The engine's process-wide settings that come from the environment, read here (the Tensor
/// module reads none): OpenBLAS's (`BLASRuntime.settings`, applied by re-executing) and the
/// kernels' thread count (`SKIPSTEP_KERNEL_THREADS`).
enum EngineSetup {
    /// Call first thing in `main`.
    static func configure() {
        let environment = ProcessInfo.processInfo.environment
        reexecWithBLASSettingsIfNeeded(environment)
        if let value = environment["SKIPSTEP_KERNEL_THREADS"], let n = Int(value), n >= 1 {
            Kernels.configureThreads(n)
        }
    }

    /// Sets the variables of `BLASRuntime.settings` and replaces the process with a fresh copy of
    /// itself when there are any; returns normally otherwise (after the re-execution they are all
    /// set, so this happens at most once). A variable the user set is left as it is.
    static func reexecWithBLASSettingsIfNeeded(_ environment: [String: String]) {
        #if os(Linux)
        let settings = BLASRuntime.settings(environment: environment)
        guard !settings.isEmpty else { return }
        for (name, value) in settings { setenv(name, value, 1) }
        let arguments = CommandLine.arguments
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) }
        argv.append(nil)
        execv("/proc/self/exe", &argv)
        // Only reached when exec failed: go on as loaded.
        for pointer in argv { free(pointer) }
        #endif
    }
}
