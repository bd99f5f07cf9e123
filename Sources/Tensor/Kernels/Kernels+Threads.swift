import CKernels
import Foundation
import Synchronization

/// A fixed set of worker threads, started once, that run the chunks of the kernels' parallel
/// loops together with the calling thread.
///
/// `DispatchQueue.concurrentPerform` would do the same but allocates on every call (about three
/// `malloc`s in swift-corelibs-libdispatch), and the kernels promise no allocation per call. So
/// does handing a closure to another thread (`withoutActuallyEscaping` boxes it), hence jobs are
/// structs (`ParallelJob`) passed by pointer with their metatype.
///
/// The pool runs one loop at a time; a loop started while another is running (another thread,
/// or a chunk that itself starts a loop) runs all its chunks on its own thread instead of
/// waiting, so callers never deadlock and never oversubscribe the cores.
///
/// A worker that has finished a loop spins for a short while (`spinLimit` `pause`s, a fraction
/// of a millisecond) before it sleeps on the condition variable, and so does the caller waiting
/// for the last chunks: a forward pass starts a few hundred loops of tens of microseconds each,
/// and waking a sleeping thread costs about as much on a virtual machine (OpenMP runtimes spin
/// for the same reason). Past the limit both sleep, so an idle pool costs nothing.
final class KernelThreadPool: @unchecked Sendable {
    static let shared = KernelThreadPool(workers: takeRequestedWorkers())

    /// Workers asked for before the pool starts (`Kernels.configureThreads`); nil: one per core
    /// besides the caller's. Guarded by `requestLock`.
    nonisolated(unsafe) private static var requestedWorkers: Int?
    nonisolated(unsafe) private static var started = false
    private static let requestLock = NSLock()

    static func requestWorkers(_ count: Int) -> Bool {
        requestLock.lock()
        defer { requestLock.unlock() }
        guard !started else { return false }
        requestedWorkers = count
        return true
    }

    private static func takeRequestedWorkers() -> Int {
        requestLock.lock()
        defer { requestLock.unlock() }
        started = true
        return requestedWorkers ?? max(1, ProcessInfo.processInfo.activeProcessorCount) - 1
    }

    let workerCount: Int
    /// Guards all the state below; `wake` is signalled when work is posted, `done` when the last
    /// chunk ends.
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let wake = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private let done = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    /// Held for the whole of one parallel loop (try-locked: busy means run inline).
    private let busy = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private var generation = 0
    /// `generation` and `unfinished` as last stored under `mutex`, for threads spinning without it.
    private let postedGeneration = Atomic<Int>(0)
    private let remaining = Atomic<Int>(0)
    /// `pause` iterations a thread spins before sleeping (about 0.1–0.5 ms).
    private static let spinLimit = 1 << 13
    /// The running loop's job: a pointer to it on the caller's stack (valid while the loop runs)
    /// and its type.
    private var task: UnsafeRawPointer?
    private var taskType: (any ParallelJob.Type)?
    private var chunkCount = 0
    private var nextChunk = 0
    private var unfinished = 0

    private init(workers: Int) {
        workerCount = max(0, workers)
        pthread_mutex_init(mutex, nil)
        pthread_mutex_init(busy, nil)
        pthread_cond_init(wake, nil)
        pthread_cond_init(done, nil)
        for index in 0..<workerCount {
            let thread = Thread { [self] in workerLoop() }
            thread.name = "skipstep-kernels-\(index + 1)"
            thread.stackSize = 4 << 20
            thread.start()
        }
    }

    /// Runs `job.run(chunk: 0) … job.run(chunk: chunks − 1)`, spread over the workers and the
    /// calling thread, and returns when all have finished.
    func run<Job: ParallelJob>(chunks: Int, _ job: Job) {
        if chunks <= 0 { return }
        guard workerCount > 0, chunks > 1, pthread_mutex_trylock(busy) == 0 else {
            for i in 0..<chunks { job.run(chunk: i) }
            return
        }
        defer { pthread_mutex_unlock(busy) }
        withUnsafePointer(to: job) { pointer in
            pthread_mutex_lock(mutex)
            task = UnsafeRawPointer(pointer)
            taskType = Job.self
            chunkCount = chunks
            nextChunk = 0
            unfinished = chunks
            remaining.store(chunks, ordering: .releasing)
            generation &+= 1
            postedGeneration.store(generation, ordering: .releasing)
            pthread_cond_broadcast(wake)
            runChunks(UnsafeRawPointer(pointer), Job.self)
            if unfinished > 0 {
                pthread_mutex_unlock(mutex)
                Self.spin(until: { remaining.load(ordering: .acquiring) == 0 })
                pthread_mutex_lock(mutex)
            }
            while unfinished > 0 { pthread_cond_wait(done, mutex) }
            task = nil
            taskType = nil
            pthread_mutex_unlock(mutex)
        }
    }

    /// Claims and runs chunks until none are left; called with `mutex` held, returns with it held.
    private func runChunks(_ job: UnsafeRawPointer, _ type: any ParallelJob.Type) {
        while nextChunk < chunkCount {
            let i = nextChunk
            nextChunk += 1
            pthread_mutex_unlock(mutex)
            type.invoke(job, chunk: i)
            pthread_mutex_lock(mutex)
            unfinished -= 1
            remaining.store(unfinished, ordering: .releasing)
            if unfinished == 0 { pthread_cond_signal(done) }
        }
    }

    /// Spins until `ready()` or `spinLimit` iterations, whichever comes first.
    private static func spin(until ready: () -> Bool) {
        for _ in 0..<spinLimit {
            if ready() { return }
            skipstep_cpu_relax()
        }
    }

    private func workerLoop() {
        pthread_mutex_lock(mutex)
        var seen = generation
        while true {
            if generation == seen {
                pthread_mutex_unlock(mutex)
                Self.spin(until: { postedGeneration.load(ordering: .acquiring) != seen })
                pthread_mutex_lock(mutex)
            }
            while generation == seen { pthread_cond_wait(wake, mutex) }
            seen = generation
            if let job = task, let type = taskType { runChunks(job, type) }
        }
    }
}

/// One parallel loop's work, run chunk by chunk by `KernelThreadPool`.
protocol ParallelJob {
    func run(chunk: Int)
    /// Runs chunk `chunk` of the job of this type at `pointer`.
    static func invoke(_ pointer: UnsafeRawPointer, chunk: Int)
}

extension ParallelJob {
    static func invoke(_ pointer: UnsafeRawPointer, chunk: Int) {
        pointer.assumingMemoryBound(to: Self.self).pointee.run(chunk: chunk)
    }
}

/// The body of a loop over a range split into contiguous chunks (`Kernels.parallelChunks`).
protocol RangeBody {
    func callAsFunction(_ range: Range<Int>)
}

/// `RangeBody` over chunk `i` of `chunks` near-equal parts of `0..<count` (boundaries rounded up
/// to multiples of `alignment`).
struct ChunkedRange<Body: RangeBody>: ParallelJob {
    var body: Body
    var count: Int
    var chunks: Int
    var alignment: Int

    @inline(__always)
    func boundary(_ i: Int) -> Int {
        if i >= chunks { return count }
        return min(count, (count * i / chunks + alignment - 1) / alignment * alignment)
    }

    func run(chunk i: Int) {
        let lo = boundary(i), hi = boundary(i + 1)
        if hi > lo { body(lo..<hi) }
    }
}
