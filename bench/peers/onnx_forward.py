"""ONNX Runtime or OpenVINO forward of an exported network (bench/peers/export_onnx.py) on a
(B, L) float32 .npy input: warmup, timed forwards, output (.npy) and timings (JSON, the fields of
bench/pytorch_forward.py's: times_s, median_s, min_s, cpu_s_per_forward, peak_rss_mib).

Run with the venv's interpreter (bench/peers/setup_venv.sh):
    bench/peers/.venv/bin/python bench/peers/onnx_forward.py --engine onnxruntime|openvino \
        --onnx M_b4.onnx --input X.npy --threads 2 --warmup 1 --repeat 3 --output Y.npy --json T.json

Settings (all engines fp32, the same thread count):
  onnxruntime  CPUExecutionProvider, graph optimisation ORT_ENABLE_ALL, intra-op threads = --threads,
               inter-op threads 1, sequential execution; spinning left at ORT's default
  openvino     CPU plugin, INFERENCE_NUM_THREADS = --threads, PERFORMANCE_HINT LATENCY (one
               stream), INFERENCE_PRECISION_HINT f32 (no bf16 down-conversion on CPUs with bf16)
"""

import argparse
import json
import os
import resource
import sys
import time


def need(module, what):
    try:
        return __import__(module)
    except ImportError:
        sys.exit("onnx_forward.py: %s is not importable by %s (%s); run bench/peers/setup_venv.sh "
                 "and use bench/peers/.venv/bin/python" % (module, sys.executable, what))


def onnxruntime_runner(path, threads):
    ort = need("onnxruntime", "--engine onnxruntime")
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    settings = {"providers": sess.get_providers(), "graph_optimization_level": "ORT_ENABLE_ALL",
                "intra_op_num_threads": threads, "inter_op_num_threads": 1}
    return ("ONNX Runtime %s" % ort.__version__, settings,
            lambda x: sess.run(None, {name: x})[0])


def openvino_runner(path, threads):
    ov = need("openvino", "--engine openvino")
    core = ov.Core()
    config = {"INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY",
              "INFERENCE_PRECISION_HINT": "f32"}
    compiled = core.compile_model(core.read_model(path), "CPU", config)
    request = compiled.create_infer_request()
    settings = {k: str(compiled.get_property(k)) for k in
                ("INFERENCE_NUM_THREADS", "PERFORMANCE_HINT", "INFERENCE_PRECISION_HINT",
                 "NUM_STREAMS")}
    settings["device"] = core.get_property("CPU", "FULL_DEVICE_NAME")

    def run(x):
        request.infer({0: x})
        return request.get_output_tensor(0).data

    return "OpenVINO %s" % ov.__version__, settings, run


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--engine", required=True, choices=["onnxruntime", "openvino"])
    ap.add_argument("--onnx", required=True, help="the exported network (fixed input shape)")
    ap.add_argument("--input", required=True, help="(B, L) float32 .npy")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--output", help="write the output of the last forward (.npy)")
    ap.add_argument("--json", help="write timings (JSON)")
    args = ap.parse_args()
    np = need("numpy", "arrays")
    if args.repeat < 1 or args.warmup < 0:
        sys.exit("onnx_forward.py: bad --repeat/--warmup")
    x = np.ascontiguousarray(np.load(args.input), dtype=np.float32)
    batch, length = x.shape
    t0 = time.perf_counter()
    make = onnxruntime_runner if args.engine == "onnxruntime" else openvino_runner
    engine, settings, run = make(args.onnx, args.threads)
    build_s = time.perf_counter() - t0
    times, cpu_times = [], []
    for i in range(args.warmup + args.repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        y = run(x)
        dt, dc = time.perf_counter() - t0, time.process_time() - c0
        if i >= args.warmup:
            times.append(dt)
            cpu_times.append(dc)
    y = np.array(y, dtype=np.float32).reshape(batch, length)
    med = float(np.median(times))
    result = {
        "tool": "bench/peers/onnx_forward.py",
        "engine": engine,
        "settings": settings,
        "batch": batch,
        "length": length,
        "threads": args.threads,
        "warmup": args.warmup,
        "repeat": args.repeat,
        "times_s": times,
        "median_s": med,
        "min_s": float(min(times)),
        "cpu_s_per_forward": float(np.median(cpu_times)),
        "build_and_load_s": build_s,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
    }
    print("%s  batch %d x %d  threads %d  forward: median %.4f s  min %.4f s  (%d after %d "
          "warmup)  peak RSS %.0f MiB" % (engine, batch, length, args.threads, med, min(times),
                                           args.repeat, args.warmup, result["peak_rss_mib"]))
    if args.output:
        np.save(args.output, y)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
            f.write("\n")


if __name__ == "__main__":
    main()
