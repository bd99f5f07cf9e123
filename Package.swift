// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "skipstep",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "skipstep", targets: ["skipstep"]),
        .library(name: "Diffusion", targets: ["Diffusion"]),
        .library(name: "Models", targets: ["Models"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS",
                       providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib",
                       providers: [.apt(["zlib1g-dev"])]),
        .target(name: "Diffusion"),
        .target(name: "CKernels", path: "Sources/CKernels"),
        .target(name: "Tensor", dependencies: ["CBLAS", "CKernels"]),
        .target(name: "Media", dependencies: ["CZlib"]),
        .target(name: "Metrics", dependencies: ["Tensor"]),
        .target(name: "Models", dependencies: ["Diffusion", "Tensor", "Media"]),
        .target(name: "Sweep", dependencies: ["Diffusion", "Models", "Media", "Metrics"]),
        .executableTarget(name: "skipstep", dependencies: [
            "Diffusion", "Models", "Media", "Tensor", "Metrics", "Sweep",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "DiffusionTests", dependencies: ["Diffusion", "TestSupport"]),
        .testTarget(name: "ModelsTests", dependencies: ["Models", "Diffusion", "Tensor", "TestSupport"]),
        .testTarget(name: "MediaTests", dependencies: ["Media", "TestSupport"]),
        .testTarget(name: "TensorTests", dependencies: ["Tensor", "TestSupport"]),
        .testTarget(name: "MetricsTests", dependencies: ["Metrics", "TestSupport"]),
        .testTarget(name: "SweepTests", dependencies: ["Sweep", "Models", "Diffusion", "Media", "TestSupport"]),
        .testTarget(name: "CLITests", dependencies: ["skipstep", "Diffusion", "Models", "Media", "TestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
