import Testing
@testable import Tensor

@Suite struct BLASRuntimeTests {
    @Test func settingsFillInOnlyWhatTheUserLeftUnset() {
        func names(_ environment: [String: String], _ core: String?) -> [String] {
            BLASRuntime.settings(environment: environment, preferredCore: core).map { "\($0.name)=\($0.value)" }
        }
        #expect(names([:], "Haswell") == ["OPENBLAS_CORETYPE=Haswell", "OPENBLAS_THREAD_TIMEOUT=4"])
        #expect(names([:], nil) == ["OPENBLAS_THREAD_TIMEOUT=4"])
        #expect(names(["OPENBLAS_THREAD_TIMEOUT": "28"], "SkylakeX") == ["OPENBLAS_CORETYPE=SkylakeX"])
        // After the re-execution everything is set: nothing more to do, so no second restart.
        #expect(names(["OPENBLAS_CORETYPE": "Haswell", "OPENBLAS_THREAD_TIMEOUT": "4"], "Haswell").isEmpty)
    }
}
