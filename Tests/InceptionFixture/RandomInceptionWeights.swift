import Diffusion
import Foundation
import Models
import TestSupport

/// pytorch-fid's FID Inception with the random weights of Tests/Fixtures/inception/spec.json
/// (made by tools/make_inception_fixture.py): every tensor is float32(offset + scale·(|r| or r)),
/// r = torch.randn(numel) from `manual_seed(seed)`, rebuilt here with `TorchGenerator`, so no
/// weights are committed.
public enum RandomInceptionWeights {
    struct Spec: Decodable {
        struct Tensor: Decodable { var name: String; var shape: [Int]; var seed: UInt64; var offset: Double; var scale: Double; var abs: Bool }
        var tensors: [Tensor]
    }

    /// The weights as a safetensors writer (23.9 M values; ~15 s in a debug build).
    public static func writer() throws -> SafeTensorsWriter {
        let spec = try Fixtures.json(Spec.self, "inception/spec.json")
        var writer = SafeTensorsWriter(metadata: ["format": FIDInception.format])
        for t in spec.tensors {
            var values = [Float](repeating: 0, count: t.shape.reduce(1, *))
            var generator = TorchGenerator(seed: t.seed)
            values.withUnsafeMutableBufferPointer { v in
                generator.fillStandardNormal(v)
                for i in v.indices {
                    let r = Double(v[i])
                    v[i] = Float(t.offset + t.scale * (t.abs ? Swift.abs(r) : r))
                }
            }
            try writer.add(t.name, values, shape: t.shape)
        }
        return writer
    }
}
