"""Checkpoint readers and key mappings: PyTorch-port `.pth` and Keras `.h5` -> our safetensors.

Shared by convert.py and inspect.py. Needs only the Python standard library and numpy; h5py is
imported lazily, and only for `.h5` sources. PyTorch is never imported: `.pth` files are read with
zipfile and a restricted unpickler that only rebuilds what a state_dict or a training checkpoint
holds (see RestrictedUnpickler).

Canonical layout (docs/CHECKPOINT_FORMAT.md): conv (K, Cin, Cout), dense (in, out), LSTM in the
Keras layout with a single bias, positional encodings not stored. Sources, tags and the
semantics of every hyper-parameter: shared/spec/MODELS.md (sections 1-4 and 8).
"""

import builtins
import collections
import io
import json
import os
import pickle
import pickletools
import re
import reprlib
import struct
import zipfile

try:
    import numpy as np
except ImportError:  # e.g. a pyenv/venv python3 first on PATH
    raise SystemExit("weights_tools needs numpy (and h5py for .h5): run it with Debian's "
                     "/usr/bin/python3 (python3-numpy, python3-h5py)")

FORMAT_NAME = "audio-sr-weights"
FORMAT_VERSION = "1"

# Constants of every original (MODELS.md 1): they cannot be read from the weights.
DILATION = 2
LEAKY_ALPHA = 0.2
BASE_BLOCK = 128          # FiLM block of level 0 (128 / 2^l below)
LAYER_NORM_EPS = 1e-6
DEFAULT_HEADS = 8         # MHSA heads: Q/K/V are plain (d, d) matrices, so not inferable
DEFAULT_SAMPLE_RATE = 16000
PT_DEFAULT_PATCH = 1024   # AFiLMNet(input_length=1024) / wav_to_h5 patches in the PT pipeline
KERAS_DEFAULT_PATCH = 8192  # NC/K21: keras.Input(shape=[8192, 1])


class ConvertError(Exception):
    """A checkpoint that cannot be converted; the message is meant for the user."""


# Limits on what a checkpoint may make this reader allocate (docs/HOSTILE_INPUT.md).
MAX_PICKLE_BYTES = 64 << 20        # data.pkl: real ones are kilobytes
MAX_PICKLED_SIZE = 1 << 20         # bytes()/bytearray()/str built by the pickle
MAX_TENSOR_BYTES = 4 << 30         # one storage record or tensor


def short_repr(obj, limit=120):
    """repr for error messages, bounded in depth, width and length: a pickle can build a
    'billion laughs' structure (shared references nested 30 deep) whose full repr never ends."""
    r = reprlib.Repr()
    r.maxlevel, r.maxlist, r.maxtuple, r.maxdict, r.maxset = 3, 6, 6, 4, 6
    r.maxstring, r.maxother, r.maxlong = 40, 40, 40
    text = r.repr(obj)
    return text if len(text) <= limit else text[:limit] + "..."


# ================================================================================================
# Canonical network description
# ================================================================================================

def film_sites(cfg):
    """[(canonical site prefix, channels)] in execution order: down.0.., bottleneck, up.L-1..0."""
    layers, f = cfg["layers"], cfg["filters"]
    sites = [("down.%d" % l, f[l]) for l in range(layers)]
    sites.append(("bottleneck", cfg["bottleneck_filters"]))
    sites += [("up.%d" % l, f[l]) for l in reversed(range(layers))]
    return sites


def conv_specs(cfg):
    """[(canonical conv prefix, K, Cin, Cout)] in execution order."""
    layers, f, k = cfg["layers"], cfg["filters"], cfg["kernels"]
    convs = [("down.%d.conv" % l, k[l], 1 if l == 0 else f[l - 1], f[l]) for l in range(layers)]
    convs.append(("bottleneck.conv", cfg["bottleneck_kernel"], f[-1], cfg["bottleneck_filters"]))
    for l in reversed(range(layers)):
        cin = cfg["bottleneck_filters"] if l == layers - 1 else 2 * f[l + 1]
        convs.append(("up.%d.conv" % l, k[l], cin, 2 * f[l]))
    convs.append(("final.conv", cfg["final_kernel"], 2 * f[0], 2))
    return convs


def canonical_shapes(cfg):
    """name -> shape of every tensor our file must hold for cfg (and no other)."""
    shapes = {}
    for name, k, cin, cout in conv_specs(cfg):
        shapes[name + ".weight"] = (k, cin, cout)
        shapes[name + ".bias"] = (cout,)
    for site, c in film_sites(cfg):
        if cfg["arch"] == "tfilm":
            shapes[site + ".film.lstm.kernel"] = (c, 4 * c)
            shapes[site + ".film.lstm.recurrent_kernel"] = (c, 4 * c)
            shapes[site + ".film.lstm.bias"] = (4 * c,)
        elif cfg["arch"] == "afilm":
            ff = cfg["ff_dim"]
            for j in range(cfg["attention_layers"]):
                p = "%s.film.layers.%d." % (site, j)
                for proj in ("query", "key", "value", "out"):
                    shapes[p + "attn.%s.weight" % proj] = (c, c)
                    shapes[p + "attn.%s.bias" % proj] = (c,)
                shapes[p + "ff1.weight"] = (c, ff)
                shapes[p + "ff1.bias"] = (ff,)
                shapes[p + "ff2.weight"] = (ff, c)
                shapes[p + "ff2.bias"] = (c,)
                for norm in ("norm1", "norm2"):
                    shapes[p + norm + ".gamma"] = (c,)
                    shapes[p + norm + ".beta"] = (c,)
    return shapes


def block_sizes(cfg, length):
    """FiLM block sizes (MODELS.md 1.2) at input length `length`: (down[l], bottleneck, up[l])."""
    layers, base = cfg["layers"], cfg["base_block"]
    steps = [length >> (l + 1) for l in range(layers)]
    down = [max(1, min(steps[l], base >> l)) for l in range(layers)]
    bott = max(1, min(length >> (layers + 1), base >> layers))
    up = list(down) if cfg["block_policy"] == "pt" else [bott] * layers
    return down, bott, up


def check_length(cfg, length):
    """The engine's rule: a multiple of 2^(layers+1) that splits into whole FiLM blocks."""
    layers = cfg["layers"]
    if length <= 0 or length % (1 << (layers + 1)):
        return False
    down, bott, up = block_sizes(cfg, length)
    for l in range(layers):
        steps = length >> (l + 1)
        if steps % down[l] or steps % up[l]:
            return False
    return (length >> (layers + 1)) % bott == 0


def metadata_for(cfg):
    """Our __metadata__ (all values strings; same keys as the engine's own writer)."""
    meta = collections.OrderedDict()
    meta["format"] = FORMAT_NAME
    meta["format_version"] = FORMAT_VERSION
    meta["arch"] = cfg["arch"]
    meta["layers"] = str(cfg["layers"])
    meta["filters"] = json.dumps(cfg["filters"], separators=(",", ":"))
    meta["kernels"] = json.dumps(cfg["kernels"], separators=(",", ":"))
    meta["bottleneck_filters"] = str(cfg["bottleneck_filters"])
    meta["bottleneck_kernel"] = str(cfg["bottleneck_kernel"])
    meta["final_kernel"] = str(cfg["final_kernel"])
    meta["dilation"] = str(cfg["dilation"])
    meta["leaky_alpha"] = repr(float(cfg["leaky_alpha"]))
    meta["block_policy"] = cfg["block_policy"]
    meta["base_block"] = str(cfg["base_block"])
    meta["subpixel_order"] = cfg["subpixel_order"]
    meta["patch_length"] = str(cfg["patch_length"])
    meta["sample_rate"] = str(cfg["sample_rate"])
    meta["ratio"] = str(cfg["ratio"])
    if cfg["arch"] == "tfilm":
        meta["gate"] = cfg["gate"]
    if cfg["arch"] == "afilm":
        meta["attention_layers"] = str(cfg["attention_layers"])
        meta["attention_heads"] = str(cfg["attention_heads"])
        meta["ff_dim"] = str(cfg["ff_dim"])
        meta["layer_norm_eps"] = "1e-06" if cfg["layer_norm_eps"] == 1e-6 else repr(
            float(cfg["layer_norm_eps"]))
    if cfg.get("source"):
        meta["source"] = cfg["source"]
    return meta


def positional_encoding(n, d):
    """MODELS.md 4: PE[pos, i] = sin(pos / 10000^(2 floor(i/2) / d)) (even i), cos (odd i);
    float64, then float32 (as NC/PT build their tables)."""
    pos = np.arange(n, dtype=np.float64)[:, None]
    i = np.arange(d)[None, :]
    angle = pos / np.power(10000.0, (2 * (i // 2)) / float(d))
    pe = np.where(i % 2 == 0, np.sin(angle), np.cos(angle))
    return pe.astype(np.float32)


class Conversion:
    """Result of reading a source: config, canonical float32 tensors, notes for the user."""

    def __init__(self, cfg, tensors, source_kind, notes, source_tensors):
        self.cfg = cfg
        self.tensors = tensors            # canonical name -> float32 contiguous ndarray
        self.source_kind = source_kind    # one line: what the file was
        self.notes = notes                # warnings / inferred values, one line each
        self.source_tensors = source_tensors  # [(source name, shape, dtype)] in file order

    @property
    def metadata(self):
        return metadata_for(self.cfg)

    def parameter_count(self):
        return int(sum(int(np.prod(a.shape, dtype=np.int64)) for a in self.tensors.values()))


def verify_canonical(cfg, tensors):
    """Internal consistency: the mapped tensors are exactly the canonical set for cfg."""
    expected = canonical_shapes(cfg)
    missing = sorted(set(expected) - set(tensors))
    extra = sorted(set(tensors) - set(expected))
    bad = sorted(n for n in expected if n in tensors and tuple(tensors[n].shape) != expected[n])
    if missing or extra or bad:
        raise ConvertError("internal error: mapped tensors do not match the canonical layout: "
                           "missing %s, unexpected %s, misshaped %s" % (missing[:5], extra[:5],
                                                                        bad[:5]))
    for name, a in tensors.items():
        if a.dtype != np.float32:
            raise ConvertError("internal error: %s is %s, not float32" % (name, a.dtype))
        if not np.all(np.isfinite(a)):
            raise ConvertError("tensor %s holds NaN or infinite values" % name)


def finish_config(cfg, notes, opts):
    """Checks shared by every source: heads divide every width, patch length is usable."""
    if cfg["arch"] == "afilm":
        for site, c in film_sites(cfg):
            if c % cfg["attention_heads"]:
                raise ConvertError("attention heads %d do not divide the width %d of FiLM site %s"
                                   % (cfg["attention_heads"], c, site))
    if not check_length(cfg, cfg["patch_length"]):
        raise ConvertError("patch length %d does not suit this network (a multiple of %d that "
                           "splits into whole FiLM blocks); pass --patch-length"
                           % (cfg["patch_length"], 1 << (cfg["layers"] + 1)))
    if not 0 <= cfg["ratio"] <= 64 or not 0 <= cfg["sample_rate"] <= 1000000:
        raise ConvertError("ratio %d / sample_rate %d out of range (0..64 / 0..1000000)"
                           % (cfg["ratio"], cfg["sample_rate"]))
    if opts.get("arch") and opts["arch"] != cfg["arch"]:
        raise ConvertError("--arch %s given, but the file holds an %s network"
                           % (opts["arch"], cfg["arch"]))
    for key in ("block_policy", "subpixel_order"):
        if opts.get(key) and opts[key] != cfg[key]:
            notes.append("%s overridden: %s (the source's own is %s)" % (key, opts[key], cfg[key]))
            cfg[key] = opts[key]


# ================================================================================================
# safetensors (our files; and detection of foreign ones)
# ================================================================================================

def safetensors_parts(tensors, metadata):
    """Yields the file in pieces: u64 LE header length N, N bytes of JSON padded with spaces so the
    data starts at a multiple of 8, then the tensors little-endian float32, back to back in
    sorted-name order (the layout of docs/CHECKPOINT_FORMAT.md)."""
    header = {"__metadata__": {str(k): str(v) for k, v in metadata.items()}}
    arrays, offset = [], 0
    for name in sorted(tensors):
        arr = np.ascontiguousarray(tensors[name], dtype="<f4")
        header[name] = {"dtype": "F32", "shape": list(arr.shape),
                        "data_offsets": [offset, offset + arr.nbytes]}
        arrays.append(arr)
        offset += arr.nbytes
    text = json.dumps(header, sort_keys=True, separators=(",", ":")).encode("utf-8")
    text += b" " * ((-(8 + len(text))) % 8)
    yield struct.pack("<Q", len(text)) + text
    for arr in arrays:
        yield memoryview(arr.reshape(-1)).cast("B")


def safetensors_bytes(tensors, metadata):
    return b"".join(bytes(p) for p in safetensors_parts(tensors, metadata))


_ST_DTYPES = {"F32": "<f4", "F16": "<f2", "F64": "<f8", "BF16": "bf16"}


def read_safetensors_header(path):
    """-> (metadata dict, {name: (dtype, shape, (begin, end))}, data start offset)."""
    size = os.path.getsize(path)
    with open(path, "rb") as fp:
        head = fp.read(8)
        if len(head) < 8:
            raise ConvertError("%s: too short for a safetensors file" % path)
        (n,) = struct.unpack("<Q", head)
        if n > size - 8:
            raise ConvertError("%s: safetensors header longer than the file" % path)
        try:
            header = json.loads(fp.read(n).decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            raise ConvertError("%s: invalid safetensors header: %s" % (path, e))
    metadata = header.pop("__metadata__", {}) or {}
    entries = {k: (v["dtype"], tuple(v["shape"]), tuple(v["data_offsets"]))
               for k, v in header.items()}
    return metadata, entries, 8 + n


def read_safetensors(path):
    """-> (metadata, {name: float32 array}); F32/F16/F64/BF16 accepted."""
    metadata, entries, start = read_safetensors_header(path)
    with open(path, "rb") as fp:
        data = fp.read()[start:]
    out = {}
    for name, (dtype, shape, (b, e)) in entries.items():
        if dtype not in _ST_DTYPES or e > len(data):
            raise ConvertError("%s: tensor %s: bad dtype %s or out of range" % (path, name, dtype))
        if dtype == "BF16":
            arr = _bf16_to_f32(np.frombuffer(data[b:e], dtype="<u2"))
        else:
            arr = np.frombuffer(data[b:e], dtype=_ST_DTYPES[dtype]).astype(np.float32)
        out[name] = arr.reshape(shape).copy()
    return metadata, out


def _bf16_to_f32(u16):
    return (u16.astype(np.uint32) << 16).view(np.float32)


def looks_like_safetensors(head, size):
    if len(head) < 9:
        return False
    (n,) = struct.unpack("<Q", head[:8])
    return 0 < n <= size - 8 and head[8:9] == b"{"


# ================================================================================================
# PyTorch `.pth` (zip container) without PyTorch
# ================================================================================================

class UnsafePickleError(ConvertError):
    pass


# torch storage class name -> numpy dtype ('bf16' handled separately)
_TORCH_STORAGES = {
    "FloatStorage": "<f4", "DoubleStorage": "<f8", "HalfStorage": "<f2",
    "BFloat16Storage": "bf16", "LongStorage": "<i8", "IntStorage": "<i4",
    "ShortStorage": "<i2", "CharStorage": "i1", "ByteStorage": "u1", "BoolStorage": "?",
}


class _StorageType:
    """Stands in for torch.<X>Storage: only usable inside a persistent id."""

    def __init__(self, name):
        self.name = name
        self.dtype = _TORCH_STORAGES[name]

    def __call__(self, *a, **k):
        raise UnsafePickleError("pickle tried to call torch.%s" % self.name)


class _Marker:
    """Stands in for torch.Tensor / torch.nn.parameter.Parameter as a type argument."""

    def __init__(self, name):
        self.name = name

    def __call__(self, *a, **k):
        raise UnsafePickleError("pickle tried to call %s" % self.name)


class LazyStorage:
    """A storage record of the zip, read only if a tensor of the model state uses it."""

    def __init__(self, reader, key, stype, numel):
        self.reader, self.key, self.stype, self.numel = reader, key, stype, numel
        self._array = None

    def array(self):
        if self._array is None:
            self._array = self.reader.storage_array(self.key, self.stype, self.numel)
        return self._array


class LazyTensor:
    """What torch._utils._rebuild_tensor_v2 returns here: a view description, materialised on
    demand as a contiguous numpy array (optimizer moments are never read)."""

    def __init__(self, storage, offset, size, stride):
        if not isinstance(storage, LazyStorage):
            raise UnsafePickleError("tensor rebuilt from something that is not a storage record")
        self.storage = storage
        self.offset = int(offset)
        self.shape = tuple(int(s) for s in size)
        self.stride = tuple(int(s) for s in stride)
        if len(self.shape) != len(self.stride) or len(self.shape) > 8 or \
                any(s < 0 for s in self.shape + self.stride):
            raise ConvertError("tensor with invalid size %s / stride %s"
                               % (short_repr(self.shape), short_repr(self.stride)))

    @property
    def dtype_name(self):
        return self.storage.stype.name.replace("Storage", "").lower()

    def numpy(self):
        count = 1
        for n in self.shape:
            count *= n  # Python ints: no overflow
        if count == 0:
            return np.zeros(self.shape, dtype=np.float32)
        if count > self.storage.numel:
            # A state_dict tensor is a view of its storage; more elements than the storage holds
            # (stride-0 broadcasting) would let the file size the allocation.
            raise ConvertError("%s: storage record %s: tensor of %d elements from a storage of %d"
                               % (self.storage.reader.path, self.storage.key, count,
                                  self.storage.numel))
        base = self.storage.array()
        last = self.offset + sum((n - 1) * s for n, s in zip(self.shape, self.stride))
        if self.offset < 0 or last >= base.size:
            raise ConvertError("%s: storage record %s: tensor view (offset %d, size %s, "
                               "stride %s) runs past its %d elements (truncated file?)"
                               % (self.storage.reader.path, self.storage.key, self.offset,
                                  short_repr(self.shape), short_repr(self.stride), base.size))
        view = np.lib.stride_tricks.as_strided(
            base[self.offset:], shape=self.shape,
            strides=tuple(s * base.itemsize for s in self.stride), writeable=False)
        return np.array(view, order="C", copy=True)


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False,
                       backward_hooks=None, metadata=None):
    return LazyTensor(storage, storage_offset, size, stride)


def _rebuild_tensor(storage, storage_offset, size, stride):
    return LazyTensor(storage, storage_offset, size, stride)


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None, state=None):
    if not isinstance(data, LazyTensor):
        raise UnsafePickleError("Parameter rebuilt from something that is not a tensor")
    return data


def _rebuild_from_type_v2(func, new_type, args, state):
    if func not in (_rebuild_tensor_v2, _rebuild_tensor, _rebuild_parameter) or \
            not isinstance(new_type, _Marker):
        raise UnsafePickleError("unexpected torch._tensor._rebuild_from_type_v2 arguments")
    return func(*args)


class PlainNamespace:
    """argparse.Namespace as a plain attribute holder (BUILD fills __dict__)."""

    def __repr__(self):
        return "Namespace(%s)" % ", ".join("%s=%s" % (k, short_repr(v))
                                           for k, v in sorted(vars(self).items())[:20])


def _codecs_encode(obj, encoding="utf-8", errors="strict"):
    # Protocol-2 pickles spell bytes as _codecs.encode(str, 'latin1').
    if not isinstance(obj, str) or encoding not in ("latin1", "latin-1", "utf-8", "utf8"):
        raise UnsafePickleError("refusing _codecs.encode(%s, %s)"
                                % (type(obj).__name__, short_repr(encoding)))
    if len(obj) > MAX_PICKLED_SIZE:
        raise UnsafePickleError("refusing _codecs.encode of %d characters" % len(obj))
    return obj.encode(encoding, errors)


def _numpy_scalar(dtype, data=None):
    if not isinstance(dtype, np.dtype) or dtype.kind not in "biufc" or not isinstance(data, bytes):
        raise UnsafePickleError("refusing numpy scalar of dtype %s" % short_repr(dtype))
    return np.frombuffer(data, dtype=dtype, count=1)[0]


def _numpy_dtype(name, align=False, copy=False):
    if not isinstance(name, str) or len(name) > 16:
        raise UnsafePickleError("refusing numpy dtype %s" % short_repr(name))
    dt = np.dtype(name)
    if dt.kind not in "biufc":
        raise UnsafePickleError("refusing numpy dtype %s" % short_repr(name))
    return dt


def _sized_from_content(kind):
    """bytes/bytearray as a pickle may call them: from content (str + encoding, bytes, a list
    of ints), never bytes(10**12), which would allocate what the file asks for."""
    def build(*args):
        if args and isinstance(args[0], int) and not isinstance(args[0], bool):
            raise UnsafePickleError("refusing %s(%d): a pickle may not size allocations"
                                    % (kind.__name__, args[0]))
        if args and hasattr(args[0], "__len__") and len(args[0]) > MAX_PICKLED_SIZE:
            raise UnsafePickleError("refusing %s of %d items (limit %d)"
                                    % (kind.__name__, len(args[0]), MAX_PICKLED_SIZE))
        return kind(*args)
    return build


_SAFE_BUILTINS = ("dict", "list", "tuple", "set", "frozenset", "int", "float", "str", "bool",
                  "complex")

_ALLOWED_GLOBALS = {
    "collections.OrderedDict": collections.OrderedDict,
    "torch._utils._rebuild_tensor_v2": _rebuild_tensor_v2,
    "torch._utils._rebuild_tensor": _rebuild_tensor,
    "torch._utils._rebuild_parameter": _rebuild_parameter,
    "torch._utils._rebuild_parameter_with_state": _rebuild_parameter,
    "torch._tensor._rebuild_from_type_v2": _rebuild_from_type_v2,
    "torch.Tensor": _Marker("torch.Tensor"),
    "torch.nn.parameter.Parameter": _Marker("torch.nn.parameter.Parameter"),
    "argparse.Namespace": PlainNamespace,
    "_codecs.encode": _codecs_encode,
    "numpy.core.multiarray.scalar": _numpy_scalar,
    "numpy.dtype": _numpy_dtype,
}
for _name in _SAFE_BUILTINS:
    _ALLOWED_GLOBALS["builtins." + _name] = getattr(builtins, _name)
    _ALLOWED_GLOBALS["__builtin__." + _name] = getattr(builtins, _name)
for _kind in (bytes, bytearray):
    _ALLOWED_GLOBALS["builtins." + _kind.__name__] = _sized_from_content(_kind)
    _ALLOWED_GLOBALS["__builtin__." + _kind.__name__] = _sized_from_content(_kind)


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler for torch checkpoints that can only build containers, plain values, tensors
    (as lazy views of the zip's storage records) and argparse.Namespace (as a plain object).
    Every other global (os.system, builtins.eval, any class with a custom __reduce__...) is
    refused before it is looked up, so nothing in the file is ever executed."""

    def __init__(self, fp, reader):
        super().__init__(fp)
        self._reader = reader

    def find_class(self, module, name):
        key = "%s.%s" % (module, name)
        if key in _ALLOWED_GLOBALS:
            return _ALLOWED_GLOBALS[key]
        if module == "torch" and name in _TORCH_STORAGES:
            return _StorageType(name)
        raise UnsafePickleError(
            "refusing to load global '%s' from the checkpoint's pickle: only state_dict / "
            "training-checkpoint contents are allowed (containers, tensors, argparse.Namespace)"
            % key)

    def persistent_load(self, pid):
        # torch.save: ('storage', storage_type, key, location, numel)
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"):
            raise UnsafePickleError("unexpected persistent id %s" % short_repr(pid))
        _, stype, key, _location, numel = pid
        if not isinstance(stype, _StorageType):
            raise UnsafePickleError("unsupported storage type in persistent id %s"
                                    % short_repr(pid))
        if not isinstance(key, str) or len(key) > 64 or not isinstance(numel, int) or numel < 0:
            raise UnsafePickleError("malformed persistent id %s" % short_repr(pid))
        return self._reader.storage(key, stype, numel)


def _check_pickle_stream(data, path):
    """Walks the opcodes before unpickling (pickletools reads lengths against what is there):
    the C unpickler allocates what a length field, a FRAME size or a memo index says before it
    sees the data, so a 300-byte data.pkl could ask for gigabytes."""
    try:
        for op, arg, pos in pickletools.genops(data):
            if op.name == "FRAME" and arg > len(data) - pos:
                raise ConvertError("%s: data.pkl: frame of %d bytes at byte %d, only %d remain"
                                   % (path, arg, pos, len(data) - pos))
            if op.name in ("PUT", "BINPUT", "LONG_BINPUT") and int(arg) > len(data):
                raise ConvertError("%s: data.pkl: memo index %s at byte %d is absurd"
                                   % (path, short_repr(arg), pos))
    except ConvertError:
        raise
    except Exception as e:  # genops: truncated arguments, unknown opcodes
        raise ConvertError("%s: data.pkl is not a well-formed pickle (%s)"
                           % (path, short_repr(str(e), 160)))


class TorchZipReader:
    """The torch>=1.6 container: `<prefix>/data.pkl` + `<prefix>/data/<key>` raw storages."""

    def __init__(self, path):
        self.path = path
        try:
            self.zf = zipfile.ZipFile(path)
            names = self.zf.namelist()
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError,
                NotImplementedError, RuntimeError) as e:
            raise ConvertError("%s: not a readable zip archive (truncated or corrupt .pth?): %s"
                               % (path, e))
        pkls = [n for n in names if n == "data.pkl" or n.endswith("/data.pkl")]
        if len(pkls) != 1:
            raise ConvertError("%s: zip archive without exactly one data.pkl: not a torch.save "
                               "checkpoint" % path)
        self.prefix = pkls[0][:-len("data.pkl")]
        self.names = set(names)
        self.little_endian = True
        if self.prefix + "byteorder" in self.names:
            order = self._read(self.prefix + "byteorder", 64).decode("ascii", "replace").strip()
            if order not in ("little", "big"):
                raise ConvertError("%s: unknown byteorder record %r" % (path, order))
            self.little_endian = order == "little"
        self._storages = {}

    def _read(self, name, limit, exact=None):
        """The record `name`, refusing one whose size (as declared, and as actually inflated)
        exceeds `limit` bytes or differs from `exact`: a zip bomb never inflates past it."""
        try:
            info = self.zf.getinfo(name)
            if exact is not None and info.file_size != exact:
                raise ConvertError("%s: storage record %s holds %d bytes, expected %d (%s)"
                                   % (self.path, name, info.file_size, exact,
                                      "truncated?" if info.file_size < exact
                                      else "not a torch storage"))
            if info.file_size > limit:
                raise ConvertError("%s: record %s declares %d bytes, more than the limit of %d"
                                   % (self.path, name, info.file_size, limit))
            with self.zf.open(info) as fp:
                data = fp.read(limit + 1)
        except (zipfile.BadZipFile, OSError, EOFError, ValueError, KeyError,
                NotImplementedError, RuntimeError) as e:
            raise ConvertError("%s: cannot read record %s (truncated or corrupt file?): %s"
                               % (self.path, name, e))
        if len(data) > limit:
            raise ConvertError("%s: record %s inflates past the limit of %d bytes"
                               % (self.path, name, limit))
        if exact is not None and len(data) != exact:
            raise ConvertError("%s: storage record %s holds %d bytes, expected %d (%s)"
                               % (self.path, name, len(data), exact,
                                  "truncated?" if len(data) < exact else "not a torch storage"))
        return data

    def load_object(self):
        data = self._read(self.prefix + "data.pkl", MAX_PICKLE_BYTES)
        _check_pickle_stream(data, self.path)
        try:
            return RestrictedUnpickler(io.BytesIO(data), self).load()
        except UnsafePickleError as e:
            raise UnsafePickleError("%s: %s" % (self.path, e))
        except ConvertError:
            raise
        except RecursionError:
            raise ConvertError("%s: data.pkl nests too deeply" % self.path)
        except Exception as e:  # malformed pickle stream
            raise ConvertError("%s: cannot unpickle data.pkl (%s: %s)"
                               % (self.path, type(e).__name__, short_repr(str(e), 200)))

    def storage(self, key, stype, numel):
        if key not in self._storages:
            self._storages[key] = LazyStorage(self, key, stype, numel)
        return self._storages[key]

    def storage_array(self, key, stype, numel):
        name = self.prefix + "data/" + key
        if name not in self.names:
            raise ConvertError("%s: storage record %s is missing" % (self.path, name))
        itemsize = 2 if stype.dtype == "bf16" else np.dtype(stype.dtype).itemsize
        if numel * itemsize > MAX_TENSOR_BYTES:
            raise ConvertError("%s: storage record %s declares %d elements (%d bytes, more than "
                               "the limit of %d)" % (self.path, name, numel, numel * itemsize,
                                                     MAX_TENSOR_BYTES))
        raw = self._read(name, numel * itemsize, exact=numel * itemsize)
        if stype.dtype == "bf16":
            u16 = np.frombuffer(raw, dtype="<u2" if self.little_endian else ">u2")
            return _bf16_to_f32(u16.astype("<u2"))
        dt = np.dtype(stype.dtype)
        if not self.little_endian and dt.itemsize > 1:
            dt = dt.newbyteorder(">")
        return np.frombuffer(raw, dtype=dt).astype(dt.newbyteorder("<") if dt.itemsize > 1 else dt)


def load_torch_checkpoint(path):
    """-> (state_dict {key: LazyTensor or other}, container kind, training args dict or None)."""
    with open(path, "rb") as fp:
        head = fp.read(4)
    if head[:2] != b"PK":
        if head[:1] == b"\x80":
            raise ConvertError("%s: a legacy (pre-zip, torch<1.6) pickle checkpoint; re-save it "
                               "with a recent torch.save (zip container) first" % path)
        raise ConvertError("%s: not a zip archive (truncated or not a torch.save checkpoint)"
                           % path)
    reader = TorchZipReader(path)
    obj = reader.load_object()
    args = None
    if isinstance(obj, dict) and "model_state_dict" in obj:
        kind = "training checkpoint dict (model_state_dict; optimizer state ignored)"
        sd = obj["model_state_dict"]
        a = obj.get("args")
        if isinstance(a, PlainNamespace):
            args = dict(vars(a))
        elif isinstance(a, dict):
            args = dict(a)
        extra = [k for k in ("epoch",) if k in obj]
        if extra:
            kind += ", epoch %s" % obj["epoch"]
    elif isinstance(obj, dict):
        kind = "bare state_dict"
        sd = obj
    else:
        raise ConvertError("%s: the checkpoint holds a %s, not a state_dict or a training dict"
                           % (path, type(obj).__name__))
    if not isinstance(sd, dict) or not any(isinstance(v, LazyTensor) for v in sd.values()):
        raise ConvertError("%s: model_state_dict holds no tensors" % path)
    return sd, kind, args


# ------------------------------------------------------------------------------------------------
# PT (rovafifaliana/AFiLM) key map
# ------------------------------------------------------------------------------------------------

_PT_ATT = (("query_dense", "query"), ("key_dense", "key"), ("value_dense", "value"),
           ("combine_heads", "out"))


def _pt_sites(layers, kind):
    """[(PT module prefix, canonical site)] in state_dict order; up_blocks.j is level L-1-j."""
    name = "afilm" if kind == "afilm" else "tfilm"
    sites = [("%s_down.%d" % (name, l), "down.%d" % l) for l in range(layers)]
    sites.append(("bottleneck_%s" % name, "bottleneck"))
    sites += [("%s_up.%d" % (name, j), "up.%d" % (layers - 1 - j)) for j in range(layers)]
    return sites


def pt_key_map(cfg):
    """PT key -> (canonical name, PT shape, transform); transform in {'conv', 'dense', 'copy',
    'lstm_ih', 'lstm_hh', 'lstm_b_ih', 'lstm_b_hh', 'pe'}. The inverse of the table in
    docs/CHECKPOINT_FORMAT.md ("Converters")."""
    layers = cfg["layers"]
    m = collections.OrderedDict()

    def conv(pt, ours, k, cin, cout):
        m[pt + ".weight"] = (ours + ".weight", (cout, cin, k), "conv")
        m[pt + ".bias"] = (ours + ".bias", (cout,), "copy")

    specs = {name: (k, cin, cout) for name, k, cin, cout in conv_specs(cfg)}
    for l in range(layers):
        conv("down_blocks.%d" % l, "down.%d.conv" % l, *specs["down.%d.conv" % l])
    conv("bottleneck_conv", "bottleneck.conv", *specs["bottleneck.conv"])
    for j in range(layers):
        l = layers - 1 - j
        conv("up_blocks.%d" % j, "up.%d.conv" % l, *specs["up.%d.conv" % l])
    conv("out_conv", "final.conv", *specs["final.conv"])
    width = dict(film_sites(cfg))
    if cfg["arch"] == "afilm":
        ff = cfg["ff_dim"]
        for pt, site in _pt_sites(layers, "afilm"):
            d = width[site]
            t = pt + ".transformer."
            m[t + "pos_encoding"] = (None, (1, None, d), "pe")
            for j in range(cfg["attention_layers"]):
                e = t + "enc_layers.%d." % j
                o = "%s.film.layers.%d." % (site, j)
                for ptn, ourn in _PT_ATT:
                    m[e + "att.%s.weight" % ptn] = (o + "attn.%s.weight" % ourn, (d, d), "dense")
                    m[e + "att.%s.bias" % ptn] = (o + "attn.%s.bias" % ourn, (d,), "copy")
                m[e + "dense1.weight"] = (o + "ff1.weight", (ff, d), "dense")
                m[e + "dense1.bias"] = (o + "ff1.bias", (ff,), "copy")
                m[e + "dense2.weight"] = (o + "ff2.weight", (d, ff), "dense")
                m[e + "dense2.bias"] = (o + "ff2.bias", (d,), "copy")
                for n in ("1", "2"):
                    m[e + "layernorm%s.weight" % n] = (o + "norm%s.gamma" % n, (d,), "copy")
                    m[e + "layernorm%s.bias" % n] = (o + "norm%s.beta" % n, (d,), "copy")
    elif cfg["arch"] == "tfilm":
        for pt, site in _pt_sites(layers, "tfilm"):
            d = width[site]
            r = pt + ".rnn."
            o = site + ".film.lstm."
            m[r + "weight_ih_l0"] = (o + "kernel", (4 * d, d), "lstm_ih")
            m[r + "weight_hh_l0"] = (o + "recurrent_kernel", (4 * d, d), "lstm_hh")
            m[r + "bias_ih_l0"] = (o + "bias", (4 * d,), "lstm_b_ih")
            m[r + "bias_hh_l0"] = (o + "bias", (4 * d,), "lstm_b_hh")
    return m


def _shape_str(shape):
    inner = ", ".join("?" if s is None else str(s) for s in shape)
    return "(" + inner + ("," if len(shape) == 1 else "") + ")"


def _list_problems(title, missing, bad, unexpected, limit=12):
    lines = [title]
    for label, items in (("missing", missing), ("wrong shape", bad), ("unexpected", unexpected)):
        for item in items[:limit]:
            lines.append("  %s: %s" % (label, item))
        if len(items) > limit:
            lines.append("  ... and %d more %s" % (len(items) - limit, label))
    return "\n".join(lines)


def _pt_infer_config(sd, path, opts):
    keys = set(sd)
    if "down_blocks.0.conv.weight" in keys or "output_conv.weight" in keys:
        raise ConvertError("%s: this looks like the rinarlj/AFILM_PyTorch (PT2) layout "
                           "(down_blocks.{i}.conv.*, output_conv.*), which is not supported: "
                           "only the rovafifaliana/AFiLM port (PT) is" % path)
    for key in ("down_blocks.0.weight", "bottleneck_conv.weight", "out_conv.weight"):
        if key not in keys:
            sample = ", ".join(sorted(keys)[:6])
            raise ConvertError("%s: not a state_dict of the PyTorch port's AFiLMNet/TFiLMNet: "
                               "missing key '%s' (keys start with: %s)" % (path, key, sample))

    def conv_shape(key):
        t = sd[key]
        if not isinstance(t, LazyTensor) or len(t.shape) != 3:
            raise ConvertError("%s: '%s' must be a Conv1d weight (out, in, K), got %s"
                               % (path, key, getattr(t, "shape", type(t).__name__)))
        return t.shape

    layers = 0
    while "down_blocks.%d.weight" % layers in keys:
        layers += 1
    filters, kernels = [], []
    for l in range(layers):
        out, _, k = conv_shape("down_blocks.%d.weight" % l)
        filters.append(out)
        kernels.append(k)
    fb, _, kb = conv_shape("bottleneck_conv.weight")
    _, _, kf = conv_shape("out_conv.weight")
    has_a = any(k.startswith(("afilm_down.", "bottleneck_afilm.", "afilm_up.")) for k in keys)
    has_t = any(k.startswith(("tfilm_down.", "bottleneck_tfilm.", "tfilm_up.")) for k in keys)
    if has_a and has_t:
        raise ConvertError("%s: the state_dict holds both afilm_* and tfilm_* modules" % path)
    arch = "afilm" if has_a else "tfilm" if has_t else "audiounet"
    cfg = {"arch": arch, "layers": layers, "filters": filters, "kernels": kernels,
           "bottleneck_filters": fb, "bottleneck_kernel": kb, "final_kernel": kf,
           "dilation": DILATION, "leaky_alpha": LEAKY_ALPHA, "block_policy": "pt",
           "base_block": BASE_BLOCK, "subpixel_order": "pt", "gate": "sigmoid",
           "attention_layers": 0, "attention_heads": opts.get("heads") or DEFAULT_HEADS,
           "ff_dim": 0, "layer_norm_eps": LAYER_NORM_EPS}
    if arch == "afilm":
        first = "afilm_down.0.transformer.enc_layers.0.dense1.weight"
        if first not in keys:
            raise ConvertError("%s: missing key '%s'" % (path, first))
        cfg["ff_dim"] = sd[first].shape[0]
        n = 0
        while "afilm_down.0.transformer.enc_layers.%d.att.query_dense.weight" % n in keys:
            n += 1
        cfg["attention_layers"] = n
    if opts.get("gate"):
        cfg["gate"] = opts["gate"]
    return cfg


def _pt_patch_length(cfg, pe_rows, notes, opts, path):
    """Input length the PT network was built for, from the pos_encoding tables (MODELS.md 8.1:
    rows = steps/block at each site, PT block = max(1, min(steps, 128/2^l)))."""
    layers = cfg["layers"]

    def rows_for(length):
        down, bott, up = block_sizes(cfg, length)
        out = {}
        for l in range(layers):
            steps = length >> (l + 1)
            out["afilm_down.%d" % l] = steps // down[l]
            out["afilm_up.%d" % (layers - 1 - l)] = steps // up[l]
        out["bottleneck_afilm"] = (length >> (layers + 1)) // bott
        return out

    n0 = pe_rows["afilm_down.0"]
    if opts.get("patch_length"):
        length = opts["patch_length"]
        how = "given by --patch-length"
    elif n0 > 1:
        length = n0 * BASE_BLOCK * 2
        how = ("inferred from afilm_down.0.transformer.pos_encoding: %d rows x block %d x 2"
               % (n0, BASE_BLOCK))
    else:
        length = 2 * BASE_BLOCK
        how = ("ambiguous: one positional-encoding row per site fits any length <= %d; "
               "using %d (pass --patch-length to choose)" % (length, length))
    expected = rows_for(length)
    bad = ["%s.transformer.pos_encoding has %d rows, but input length %d gives %d"
           % (site, pe_rows[site], length, expected[site])
           for site, _ in _pt_sites(layers, "afilm") if pe_rows.get(site) != expected[site]]
    if bad:
        raise ConvertError("%s: positional-encoding tables do not fit one input length (%s):\n  %s"
                           % (path, how, "\n  ".join(bad)))
    notes.append("patch_length %d (%s)" % (length, how))
    return length


def convert_pth(path, opts):
    sd, kind, args = load_torch_checkpoint(path)
    notes = []
    for prefix in ("module.", "_orig_mod."):     # nn.DataParallel / torch.compile wrappers
        if sd and all(isinstance(k, str) and k.startswith(prefix) for k in sd):
            sd = collections.OrderedDict((k[len(prefix):], v) for k, v in sd.items())
            notes.append("stripped the '%s' prefix from every key" % prefix)
    source_tensors = [(k, v.shape, v.dtype_name) if isinstance(v, LazyTensor)
                      else (k, None, type(v).__name__) for k, v in sd.items()]
    cfg = _pt_infer_config(sd, path, opts)

    # Validate every key and shape against the topology the conv shapes imply.
    kmap = pt_key_map(cfg)
    missing = [k for k in kmap if k not in sd]
    unexpected = [k for k in sd if k not in kmap]
    bad = []
    for k, (_, shape, how) in kmap.items():
        if k not in sd:
            continue
        t = sd[k]
        got = getattr(t, "shape", None)
        if not isinstance(t, LazyTensor):
            bad.append("%s is a %s, not a tensor" % (k, type(t).__name__))
        elif len(got) != len(shape) or any(e is not None and e != g for e, g in zip(shape, got)):
            bad.append("%s: %s, expected %s" % (k, _shape_str(got), _shape_str(shape)))
    if missing or bad or unexpected:
        title = ("%s: the state_dict does not match the PyTorch port's %s network implied by its "
                 "conv shapes (layers %d, filters %s, bottleneck %d%s):"
                 % (path, "AFiLMNet" if cfg["arch"] == "afilm" else "TFiLMNet"
                    if cfg["arch"] == "tfilm" else "U-Net", cfg["layers"], cfg["filters"],
                    cfg["bottleneck_filters"],
                    (", %d encoder layers, ff %d" % (cfg["attention_layers"], cfg["ff_dim"]))
                    if cfg["arch"] == "afilm" else ""))
        msg = _list_problems(title, missing, bad, unexpected)
        if cfg["arch"] == "tfilm" and any(b.startswith(("up_blocks.", "out_conv.")) for b in bad):
            msg += ("\n  (the PT port's TFiLMNet declares every up conv with 2*nf inputs and the "
                    "output conv with 2: its own forward pass fails on these shapes (MODELS.md 3), "
                    "so such a checkpoint describes no runnable network)")
        raise ConvertError(msg)

    # Values from the training dict's args (train.py: --r, --layers, --model).
    if args:
        notes.append("training args: %s" % ", ".join(
            "%s=%r" % (k, args[k]) for k in sorted(args) if k in (
                "model", "r", "scale", "layers", "sr", "sample_rate", "epochs", "lr")))
        if "layers" in args and args["layers"] != cfg["layers"]:
            notes.append("warning: args.layers=%r but the state_dict has %d down blocks"
                         % (args["layers"], cfg["layers"]))
        if args.get("model") in ("afilm", "tfilm") and args["model"] != cfg["arch"]:
            notes.append("warning: args.model=%r but the state_dict holds %s modules"
                         % (args["model"], cfg["arch"]))
    cfg["ratio"], cfg["sample_rate"] = _ratio_and_rate(opts, args, notes)

    # Positional encodings: infer the patch length, check the tables against the formula.
    tensors = {}
    if cfg["arch"] == "afilm":
        pe_rows = {}
        worst = 0.0
        for pt, _ in _pt_sites(cfg["layers"], "afilm"):
            t = sd[pt + ".transformer.pos_encoding"]
            pe_rows[pt] = t.shape[1]
            table = t.numpy().astype(np.float32)[0]
            diff = float(np.max(np.abs(table - positional_encoding(*table.shape)))) \
                if table.size else 0.0
            worst = max(worst, diff)
        if worst > 1e-6:
            notes.append("warning: stored pos_encoding tables differ from the sinusoidal formula "
                         "(MODELS.md 4) by up to %.3g; the engine computes the formula and "
                         "ignores the stored tables" % worst)
        else:
            notes.append("pos_encoding tables match the sinusoidal formula (max |diff| %.1e); "
                         "not stored (the engine computes them)" % worst)
        cfg["patch_length"] = _pt_patch_length(cfg, pe_rows, notes, opts, path)
    else:
        cfg["patch_length"] = opts.get("patch_length") or PT_DEFAULT_PATCH
        if not opts.get("patch_length"):
            notes.append("patch_length %d: the PT pipeline's patch size (nothing in a %s "
                         "state_dict records it; pass --patch-length)" % (PT_DEFAULT_PATCH,
                                                                          cfg["arch"]))
    if cfg["arch"] == "afilm":
        notes.append("attention_heads %d: %s" % (cfg["attention_heads"],
                     "given by --heads" if opts.get("heads") else
                     "the port's hard-coded value (not recorded in the weights)"))
    if cfg["arch"] == "tfilm":
        notes.append("LSTM bias = bias_ih_l0 + bias_hh_l0 (float32 sum)")

    non_f32 = sorted({sd[k].dtype_name for k in kmap if sd[k].dtype_name != "float"})
    if non_f32:
        notes.append("source tensors in %s converted to float32" % ", ".join(non_f32))

    for k, (ours, _, how) in kmap.items():
        if how == "pe":
            continue
        a = sd[k].numpy()
        if a.dtype != np.float32:
            a = a.astype(np.float32)
        if how == "conv":
            a = a.transpose(2, 1, 0)            # (out, in, K) -> (K, in, out)
        elif how in ("dense", "lstm_ih", "lstm_hh"):
            a = a.T                             # (out, in) -> (in, out); (4C, C) -> (C, 4C)
        a = np.ascontiguousarray(a, dtype=np.float32)
        if how == "lstm_b_hh":
            continue
        if how == "lstm_b_ih":
            b_hh = np.asarray(sd[k.replace("bias_ih_l0", "bias_hh_l0")].numpy(), dtype=np.float32)
            a = (a + b_hh).astype(np.float32)
        tensors[ours] = a
    cfg["source"] = "rovafifaliana/AFiLM .pth (%s): %s" % (
        "training dict" if kind.startswith("training") else "state_dict", os.path.basename(path))
    finish_config(cfg, notes, opts)
    verify_canonical(cfg, tensors)
    return Conversion(cfg, tensors, "PyTorch port (rovafifaliana/AFiLM) .pth, " + kind, notes,
                      source_tensors)


def _ratio_and_rate(opts, args, notes):
    args = args or {}
    from_args = None
    for key in ("r", "scale"):
        if isinstance(args.get(key), int) and not isinstance(args.get(key), bool):
            from_args = (key, args[key])
            break
    if opts.get("ratio") is not None:
        ratio = opts["ratio"]
        if from_args and from_args[1] != ratio:
            notes.append("warning: --ratio %d differs from args.%s=%d stored in the checkpoint"
                         % (ratio, from_args[0], from_args[1]))
        notes.append("ratio %d (given by --ratio)" % ratio)
    elif from_args:
        ratio = from_args[1]
        notes.append("ratio %d (from the training args: args.%s)" % (ratio, from_args[0]))
    else:
        ratio = 0
        notes.append("ratio 0 = any: the weights do not record it (pass --ratio)")
    rate = None
    for key in ("sr", "sample_rate"):
        if isinstance(args.get(key), int) and not isinstance(args.get(key), bool):
            rate = args[key]
    if opts.get("sample_rate") is not None:
        rate = opts["sample_rate"]
    elif rate is None:
        rate = DEFAULT_SAMPLE_RATE
        notes.append("sample_rate %d (default; pass --sample-rate)" % rate)
    return ratio, rate


# ================================================================================================
# Keras `.h5` (TF originals: NC tfilm/afilm, K21-style AudioUNet)
# ================================================================================================

def _h5_strings(values):
    out = []
    for v in np.atleast_1d(values):
        out.append(v.decode("utf-8") if isinstance(v, (bytes, np.bytes_)) else str(v))
    return out


def _h5_attr_list(group, name):
    """Keras splits big list attributes into name0, name1, ... (HDF5 header limit)."""
    if name in group.attrs:
        return _h5_strings(group.attrs[name])
    out, i = [], 0
    while "%s%d" % (name, i) in group.attrs:
        out += _h5_strings(group.attrs["%s%d" % (name, i)])
        i += 1
    return out if i else None


def _suffix(weight_name):
    """'a_fi_lm/transformer_block/.../dense/kernel:0' -> 'kernel'."""
    return re.sub(r":\d+$", "", weight_name.split("/")[-1])


_AUTO_NAME = re.compile(r"^(.*?)(?:_(\d+))?$")


class _KLayer:
    def __init__(self, name, weights):
        self.name = name
        self.weights = weights            # [(weight name, array)]
        self.kind = None

    def describe(self):
        return "'%s' [%s]" % (self.name, ", ".join("%s %s" % (_suffix(n), _shape_str(a.shape))
                                                    for n, a in self.weights))


# per encoder layer: query, key, value, combine_heads, dense1, dense2 (kernel, bias); ln1, ln2
_ENC_PATTERN = ("kernel", "bias") * 6 + ("gamma", "beta") * 2


def _classify(layer, path):
    w = layer.weights
    sfx = [_suffix(n) for n, _ in w]
    ranks = [a.ndim for _, a in w]
    if len(w) == 2 and ranks == [3, 1]:
        if sfx != ["kernel", "bias"]:
            raise ConvertError("%s: layer %s looks like a Conv1D but its weights are not named "
                               "kernel, bias" % (path, layer.describe()))
        return "conv"
    if len(w) == 3 and ranks == [2, 2, 1]:
        if sfx != ["kernel", "recurrent_kernel", "bias"]:
            raise ConvertError("%s: layer %s looks like an LSTM but its weights are not named "
                               "kernel, recurrent_kernel, bias" % (path, layer.describe()))
        return "lstm"
    if len(w) == 12 and all(s.startswith(("W_", "U_", "b_")) or "_W_" in s or "_U_" in s
                            or "_b_" in s for s in sfx):
        raise ConvertError("%s: layer %s holds a Keras 1.x LSTM (separate W_i/U_i/b_i ... "
                           "arrays): not supported" % (path, layer.describe()))
    if w and len(w) % 16 == 0 and all(s == e for s, e in zip(sfx, _ENC_PATTERN * (len(w) // 16))):
        return "transformer"
    raise ConvertError("%s: layer %s is neither a Conv1D (kernel, bias), an LSTM/TFiLM "
                       "(kernel, recurrent_kernel, bias) nor an AFiLM transformer (16 weights per "
                       "encoder layer: query, key, value, combine_heads, dense1, dense2 kernel/"
                       "bias, layernorm1, layernorm2 gamma/beta)" % (path, layer.describe()))


def _keras_input_length(root):
    raw = root.attrs.get("model_config")
    if raw is None:
        return None
    try:
        config = json.loads(raw.decode("utf-8") if isinstance(raw, bytes) else raw)
    except ValueError:
        return None
    for layer in config.get("config", {}).get("layers", []):
        if layer.get("class_name") == "InputLayer":
            shape = layer.get("config", {}).get("batch_input_shape") or \
                layer.get("config", {}).get("batch_shape")
            if shape and len(shape) == 3 and isinstance(shape[1], int):
                return shape[1]
    return None


def _keras_default_gate(version):
    """LSTM recurrent activation the file's Keras defaulted to -> (gate, reason, ambiguous).

    Standalone Keras changed the default from hard_sigmoid to sigmoid in 2.3.0 (release notes:
    "Change default recurrent activation to sigmoid (from hard_sigmoid) in all RNN layers").
    tf.keras reports '<keras api version>-tf' up to TF 2.3 ('2.2.4-tf' in TF 1.13-1.15 *and* TF
    2.0-2.1, '2.3.0-tf' in TF 2.2-2.3), then the plain TF-era version ('2.4.0', ... '2.6.0'): TF 1.x
    tf.keras used hard_sigmoid (layers/recurrent.py), TF 2.x sigmoid (recurrent_v2.py). NC was
    TF 2.6, K21 TF 2.4: sigmoid."""
    if not version:
        return "sigmoid", "keras_version not recorded: assuming TF 2.x tf.keras", True
    m = re.match(r"(\d+)\.(\d+)(?:\.(\d+))?", version)
    if not m:
        return "sigmoid", "unrecognised keras_version %r: assuming TF 2.x" % version, True
    ver = (int(m.group(1)), int(m.group(2)), int(m.group(3) or 0))
    if version.endswith("-tf"):
        if ver < (2, 3, 0):
            return "sigmoid", ("keras_version %s is written by tf.keras of TF 2.0-2.1 (sigmoid) "
                               "but also of TF 1.13-1.15 (hard_sigmoid): assuming TF 2.x"
                               % version), True
        return "sigmoid", "keras_version %s (tf.keras of TF 2.x)" % version, False
    if ver < (2, 3, 0):
        return "hard_sigmoid", ("keras_version %s: standalone Keras < 2.3 defaults the LSTM "
                                "recurrent activation to hard_sigmoid" % version), False
    return "sigmoid", "keras_version %s (default recurrent activation sigmoid)" % version, False


def read_keras_layers(path):
    try:
        import h5py
    except ImportError:
        raise ConvertError("reading .h5 files needs h5py (Debian: apt install python3-h5py; run "
                           "with /usr/bin/python3)")
    try:
        f = h5py.File(path, "r")
    except (OSError, ValueError) as e:
        raise ConvertError("%s: cannot open as HDF5: %s" % (path, e))
    with f:
        if "model_weights" in f:
            group, kind = f["model_weights"], "full Keras model (model.save)"
        else:
            group, kind = f, "Keras weights-only file (save_weights)"
        names = _h5_attr_list(group, "layer_names")
        if names is None:
            raise ConvertError("%s: HDF5 file without a Keras 'layer_names' attribute: not a "
                               "Keras model or weights file" % path)
        version = group.attrs.get("keras_version", f.attrs.get("keras_version"))
        version = _h5_strings(version)[0] if version is not None else None
        layers = []
        for name in names:
            if name not in group:
                raise ConvertError("%s: layer '%s' listed in layer_names has no group"
                                   % (path, name))
            g = group[name]
            wnames = _h5_attr_list(g, "weight_names") or []
            weights = []
            for wn in wnames:
                if wn not in g:
                    raise ConvertError("%s: weight '%s' of layer '%s' is missing"
                                       % (path, wn, name))
                try:
                    weights.append((wn, np.asarray(g[wn][()])))
                except (OSError, ValueError) as e:
                    raise ConvertError("%s: cannot read weight '%s' of layer '%s' (truncated "
                                       "file?): %s" % (path, wn, name, e))
            layers.append(_KLayer(name, weights))
        input_length = _keras_input_length(f)
    return layers, kind, version, input_length


def convert_h5(path, opts):
    layers, kind, version, input_length = read_keras_layers(path)
    notes = []
    source_tensors = [("%s/%s" % (l.name, n), a.shape, str(a.dtype))
                      for l in layers for n, a in l.weights]
    weighted = [l for l in layers if l.weights]
    for l in weighted:
        l.kind = _classify(l, path)
    convs = [l for l in weighted if l.kind == "conv"]
    films = [l for l in weighted if l.kind != "conv"]
    order = ", ".join("%s(%s)" % (l.name, l.kind) for l in weighted)
    if len(convs) < 4 or len(convs) % 2:
        raise ConvertError("%s: %d Conv1D layers; a U-Net with L levels has 2L+2 (L down, "
                           "bottleneck, L up, final). Weighted layers in file order: %s"
                           % (path, len(convs), order))
    nl = (len(convs) - 2) // 2
    kinds = {l.kind for l in films}
    if len(kinds) > 1:
        raise ConvertError("%s: mixes LSTM and transformer FiLM layers: %s" % (path, order))
    arch = {"lstm": "tfilm", "transformer": "afilm"}.get(kinds.pop() if kinds else None,
                                                        "audiounet")
    expected_kinds = ["conv"] * (2 * nl + 2)
    if arch != "audiounet":
        expected_kinds = (["conv", "film"] * (2 * nl + 1)) + ["conv"]
    got_kinds = ["conv" if l.kind == "conv" else "film" for l in weighted]
    if got_kinds != expected_kinds:
        raise ConvertError("%s: weighted layers are not in U-Net order (expected conv, FiLM "
                           "alternating: %d down blocks, bottleneck, %d up blocks, final conv); "
                           "file order: %s" % (path, nl, nl, order))
    _check_creation_order(convs, notes)
    _check_creation_order(films, notes)

    # Topology from the down convs; every other layer must then match it exactly.
    filters = [c.weights[0][1].shape[2] for c in convs[:nl]]
    kernels = [c.weights[0][1].shape[0] for c in convs[:nl]]
    bott = convs[nl].weights[0][1]
    cfg = {"arch": arch, "layers": nl, "filters": filters, "kernels": kernels,
           "bottleneck_filters": bott.shape[2], "bottleneck_kernel": bott.shape[0],
           "final_kernel": convs[-1].weights[0][1].shape[0], "dilation": DILATION,
           "leaky_alpha": LEAKY_ALPHA, "block_policy": "tf", "base_block": BASE_BLOCK,
           "subpixel_order": "tf", "gate": "sigmoid", "attention_layers": 0,
           "attention_heads": opts.get("heads") or DEFAULT_HEADS, "ff_dim": 0,
           "layer_norm_eps": LAYER_NORM_EPS}
    if arch == "afilm":
        first = films[0].weights
        cfg["attention_layers"] = len(first) // 16
        cfg["ff_dim"] = first[8][1].shape[1]
    problems = []
    tensors = {}
    for layer, (name, k, cin, cout) in zip(convs, conv_specs(cfg)):
        kern, bias = layer.weights[0][1], layer.weights[1][1]
        if kern.shape != (k, cin, cout) or bias.shape != (cout,):
            problems.append("layer '%s' (used as %s): kernel %s, bias %s; expected %s, (%d,)"
                            % (layer.name, name, _shape_str(kern.shape), _shape_str(bias.shape),
                               _shape_str((k, cin, cout)), cout))
            continue
        tensors[name + ".weight"] = np.ascontiguousarray(kern, dtype=np.float32)
        tensors[name + ".bias"] = np.ascontiguousarray(bias, dtype=np.float32)
    for layer, (site, c) in zip(films, film_sites(cfg) if arch != "audiounet" else []):
        if arch == "tfilm":
            exp = [(c, 4 * c), (c, 4 * c), (4 * c,)]
            got = [a.shape for _, a in layer.weights]
            if got != exp:
                problems.append("layer '%s' (used as %s.film): LSTM weights %s; expected %s"
                                % (layer.name, site, ", ".join(map(_shape_str, got)),
                                   ", ".join(map(_shape_str, exp))))
                continue
            for (_, a), ours in zip(layer.weights, ("kernel", "recurrent_kernel", "bias")):
                tensors["%s.film.lstm.%s" % (site, ours)] = np.ascontiguousarray(a, np.float32)
        else:
            ff, nenc = cfg["ff_dim"], cfg["attention_layers"]
            one = [(c, c), (c,)] * 4 + [(c, ff), (ff,), (ff, c), (c,), (c,), (c,), (c,), (c,)]
            got = [a.shape for _, a in layer.weights]
            if got != one * nenc:
                problems.append("layer '%s' (used as %s.film): %d weights with shapes %s...; "
                                "expected %d encoder layers of %s"
                                % (layer.name, site, len(got), ", ".join(map(_shape_str, got[:16])),
                                   nenc, ", ".join(map(_shape_str, one))))
                continue
            names = ["attn.query.weight", "attn.query.bias", "attn.key.weight", "attn.key.bias",
                     "attn.value.weight", "attn.value.bias", "attn.out.weight", "attn.out.bias",
                     "ff1.weight", "ff1.bias", "ff2.weight", "ff2.bias", "norm1.gamma",
                     "norm1.beta", "norm2.gamma", "norm2.beta"]
            for i, (_, a) in enumerate(layer.weights):
                j, n = divmod(i, 16)
                tensors["%s.film.layers.%d.%s" % (site, j, names[n])] = \
                    np.ascontiguousarray(a, np.float32)
    if problems:
        raise ConvertError(_list_problems(
            "%s: layer shapes do not match the U-Net implied by the down convs (layers %d, "
            "filters %s, bottleneck %d); weighted layers in file order: %s"
            % (path, nl, filters, cfg["bottleneck_filters"], order), [], problems, []))

    if arch == "tfilm":
        gate, why, ambiguous = _keras_default_gate(version)
        if opts.get("gate"):
            gate, why, ambiguous = opts["gate"], "given by --gate", False
        cfg["gate"] = gate
        notes.append("%sLSTM gates %s (%s%s)" % (
            "warning: " if ambiguous else "", gate, why,
            "; pass --gate hard_sigmoid for a TF 1.x model" if ambiguous else ""))
    if arch == "afilm":
        notes.append("attention_heads %d: %s" % (cfg["attention_heads"],
                     "given by --heads" if opts.get("heads") else
                     "NC's hard-coded value (not recorded in the weights)"))
    if opts.get("patch_length"):
        cfg["patch_length"] = opts["patch_length"]
        notes.append("patch_length %d (given by --patch-length)" % cfg["patch_length"])
    elif input_length:
        cfg["patch_length"] = input_length
        notes.append("patch_length %d (the model config's Input shape)" % input_length)
    else:
        cfg["patch_length"] = KERAS_DEFAULT_PATCH
        notes.append("patch_length %d (NC's keras.Input(shape=[8192, 1]); the file records no "
                     "input shape)" % KERAS_DEFAULT_PATCH)
    cfg["ratio"], cfg["sample_rate"] = _ratio_and_rate(opts, None, notes)
    notes.append("block_policy tf (every up block uses the bottleneck's block size) and "
                 "subpixel_order tf: the TF originals' semantics (MODELS.md 1.2, 2)")
    cfg["source"] = "Keras .h5 (%s): %s" % ("full model" if kind.startswith("full") else
                                            "weights only", os.path.basename(path))
    finish_config(cfg, notes, opts)
    verify_canonical(cfg, tensors)
    return Conversion(cfg, tensors, kind + (", keras_version %s" % version if version else ""),
                      notes, source_tensors)


def _check_creation_order(layers, notes):
    """Keras auto-names layers <class>, <class>_1, <class>_2 ... in creation order; for these
    U-Nets creation order is execution order, so along the file's layer_names order the numeric
    suffixes of each base name must increase. A mismatch means the names were set by hand or the
    file is unusual: warn (the shapes were checked independently)."""
    last = {}
    for l in layers:
        base, num = _AUTO_NAME.match(l.name).groups()
        num = int(num) if num else 0
        if base in last and num <= last[base]:
            notes.append("warning: layer '%s' comes after a later-created '%s_%d' in layer_names; "
                         "mapping by file order" % (l.name, base, last[base]))
        last[base] = num


# ================================================================================================
# Entry point
# ================================================================================================

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def detect(path):
    """-> 'pth' | 'h5' | 'ours' | 'safetensors' | 'unknown'."""
    size = os.path.getsize(path)
    with open(path, "rb") as fp:
        head = fp.read(16)
    if head.startswith(HDF5_SIGNATURE):
        return "h5"
    if head.startswith(b"PK") or head.startswith(b"\x80"):
        return "pth"
    if looks_like_safetensors(head, size):
        try:
            meta, _, _ = read_safetensors_header(path)
        except ConvertError:
            return "unknown"
        return "ours" if meta.get("format") == FORMAT_NAME else "safetensors"
    # HDF5 may carry a user block: signature at 512, 1024, 2048 ...
    with open(path, "rb") as fp:
        off = 512
        while off < min(size, 1 << 20):
            fp.seek(off)
            if fp.read(8) == HDF5_SIGNATURE:
                return "h5"
            off *= 2
    return "unknown"


def convert(path, opts=None):
    """Reads any supported source -> Conversion. opts keys (all optional): ratio, sample_rate,
    arch, heads, gate, patch_length, block_policy, subpixel_order."""
    opts = dict(opts or {})
    if not os.path.isfile(path):
        raise ConvertError("%s: no such file" % path)
    kind = detect(path)
    if kind == "ours":
        raise ConvertError("%s is already in our format (audio-sr-weights safetensors): "
                           "already converted, nothing to do" % path)
    if kind == "safetensors":
        raise ConvertError("%s is a safetensors file but not ours (no '__metadata__.format = %s'); "
                           "only PyTorch-port .pth and Keras .h5 checkpoints are converted"
                           % (path, FORMAT_NAME))
    if kind == "pth":
        return convert_pth(path, opts)
    if kind == "h5":
        return convert_h5(path, opts)
    raise ConvertError("%s: unrecognised file type (expected a PyTorch .pth zip, a Keras .h5 "
                       "or one of our .safetensors)" % path)


def write_conversion(conv, dst):
    """Writes atomically: a temporary file next to dst, renamed on success."""
    tmp = "%s.tmp-%d" % (dst, os.getpid())
    size = 0
    try:
        with open(tmp, "wb") as fp:
            for part in safetensors_parts(conv.tensors, conv.metadata):
                fp.write(part)
                size += len(part)
        os.replace(tmp, dst)
    except OSError as e:
        raise ConvertError("cannot write %s: %s" % (dst, e))
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return size
