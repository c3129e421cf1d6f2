"""Hand-built Keras 2 HDF5 files of the TF originals' TFiLM / AFiLM U-Nets (NC, ncarraz/AFILM).

Written with h5py only (no TensorFlow here), mimicking what tf.keras 2.x writes
(tensorflow/python/keras/saving/hdf5_format.py):

  model.save('m.h5')                     model.save_weights('w.h5')
  /  attrs keras_version, backend,       /  attrs layer_names, backend, keras_version
     model_config (JSON), training_config   /<layer>/ attrs weight_names
  /model_weights  attrs layer_names,        /<layer>/<weight name with '/'s>   (dataset)
                  backend, keras_version
  /model_weights/<layer>/ attrs weight_names
  /model_weights/<layer>/<weight name>   (dataset; 'conv1d/kernel:0' -> nested groups)
  /optimizer_weights/...

`layer_names` lists model.layers (for these functional U-Nets: execution order, which is also
creation order), weightless layers included (their weight_names is empty). Layer names are the
auto-generated ones (conv1d, conv1d_1, ...; custom layers TFiLM -> t_fi_lm, AFiLM -> a_fi_lm);
weight order within a layer is Keras' trainable_weights order: Conv1D kernel, bias; LSTM kernel,
recurrent_kernel, bias; AFiLM transformer per encoder layer query, key, value, combine_heads,
dense1, dense2 (kernel, bias each), layernorm1, layernorm2 (gamma, beta each).

Assumptions (no TF install here to check them): the inner scope names of the nested weights
(e.g. 't_fi_lm/lstm_cell/kernel:0'); the converter only relies on the order and the last name
component (kernel / recurrent_kernel / bias / gamma / beta), not on the scopes.
"""

import json

import h5py
import numpy as np


def _suffixed(base, counters):
    n = counters.get(base, 0)
    counters[base] = n + 1
    return base if n == 0 else "%s_%d" % (base, n)


def keras_layers(cfg, weights):
    """[(layer name, class name, [(weight name, array)])] in model.layers order, from canonical
    weights (which are already in Keras layout: conv (K, in, out), dense (in, out), LSTM Keras)."""
    counters = {}
    out = []
    layers = cfg["layers"]
    film_cls = {"tfilm": ("t_fi_lm", "TFiLM"), "afilm": ("a_fi_lm", "AFiLM")}.get(cfg["arch"])

    def add(base, cls, wlist=()):
        name = _suffixed(base, counters)
        out.append((name, cls, [(w.replace("{}", name), a) for w, a in wlist]))
        return name

    def conv(prefix):
        add("conv1d", "Conv1D", [("{}/kernel:0", weights[prefix + ".weight"]),
                                 ("{}/bias:0", weights[prefix + ".bias"])])

    def film(site):
        if film_cls is None:
            return
        p = site + ".film."
        if cfg["arch"] == "tfilm":
            cell = _suffixed("lstm_cell", counters)
            wl = [("{}/%s/kernel:0" % cell, weights[p + "lstm.kernel"]),
                  ("{}/%s/recurrent_kernel:0" % cell, weights[p + "lstm.recurrent_kernel"]),
                  ("{}/%s/bias:0" % cell, weights[p + "lstm.bias"])]
        else:
            tb = _suffixed("transformer_block", counters)
            wl = []
            for j in range(cfg["attention_layers"]):
                enc = _suffixed("encoder_layer", counters)
                mh = _suffixed("multi_head_self_attention", counters)
                q = p + "layers.%d." % j
                for proj in ("query", "key", "value", "out"):
                    dn = _suffixed("dense", counters)
                    for part in ("weight", "bias"):
                        wl.append(("{}/%s/%s/%s/%s/%s:0" % (tb, enc, mh, dn, "kernel" if part ==
                                                           "weight" else "bias"),
                                   weights[q + "attn.%s.%s" % (proj, part)]))
                for ours in ("ff1", "ff2"):
                    dn = _suffixed("dense", counters)
                    wl.append(("{}/%s/%s/%s/kernel:0" % (tb, enc, dn),
                               weights[q + ours + ".weight"]))
                    wl.append(("{}/%s/%s/%s/bias:0" % (tb, enc, dn), weights[q + ours + ".bias"]))
                for norm in ("norm1", "norm2"):
                    ln = _suffixed("layer_normalization", counters)
                    wl.append(("{}/%s/%s/%s/gamma:0" % (tb, enc, ln), weights[q + norm + ".gamma"]))
                    wl.append(("{}/%s/%s/%s/beta:0" % (tb, enc, ln), weights[q + norm + ".beta"]))
        add(film_cls[0], film_cls[1], wl)

    def subpixel():
        add("tf.compat.v1.transpose", "TFOpLambda")
        add("tf.compat.v1.batch_to_space_nd", "TFOpLambda")
        add("tf.compat.v1.transpose", "TFOpLambda")

    add("input_1", "InputLayer")
    for l in range(layers):
        conv("down.%d.conv" % l)
        add("max_pooling1d", "MaxPooling1D")
        add("leaky_re_lu", "LeakyReLU")
        film("down.%d" % l)
    conv("bottleneck.conv")
    add("max_pooling1d", "MaxPooling1D")
    add("dropout", "Dropout")
    add("leaky_re_lu", "LeakyReLU")
    film("bottleneck")
    for l in reversed(range(layers)):
        conv("up.%d.conv" % l)
        add("dropout", "Dropout")
        add("re_lu", "ReLU")
        subpixel()
        film("up.%d" % l)
        add("concatenate", "Concatenate")
    conv("final.conv")
    subpixel()
    add("add", "Add")
    return out


def _write_layers(group, layer_list, keras_version):
    group.attrs["backend"] = b"tensorflow"
    group.attrs["keras_version"] = keras_version.encode()
    group.attrs["layer_names"] = np.array([n.encode("utf8") for n, _, _ in layer_list])
    for name, _, wl in layer_list:
        g = group.create_group(name)
        g.attrs["weight_names"] = np.array([w.encode("utf8") for w, _ in wl], dtype="S")
        for wname, arr in wl:
            g.create_dataset(wname, data=np.asarray(arr, dtype=np.float32))


def write_h5(path, cfg, weights, full_model=True, keras_version="2.6.0", input_length=None,
             layer_list=None):
    layer_list = layer_list if layer_list is not None else keras_layers(cfg, weights)
    with h5py.File(path, "w") as f:
        if full_model:
            f.attrs["keras_version"] = keras_version.encode()
            f.attrs["backend"] = b"tensorflow"
            config_layers = []
            for name, cls, _ in layer_list:
                entry = {"class_name": cls, "name": name, "config": {"name": name}}
                if cls == "InputLayer":
                    entry["config"]["batch_input_shape"] = [None, input_length, 1]
                    entry["config"]["dtype"] = "float32"
                config_layers.append(entry)
            f.attrs["model_config"] = json.dumps(
                {"class_name": "Functional", "config": {"name": "model", "layers": config_layers}}
            ).encode("utf8")
            f.attrs["training_config"] = json.dumps(
                {"loss": "mse", "optimizer_config": {"class_name": "Adam"}}).encode("utf8")
            _write_layers(f.create_group("model_weights"), layer_list, keras_version)
            opt = f.create_group("optimizer_weights")
            opt.attrs["weight_names"] = np.array([b"Adam/iter:0"])
            opt.create_dataset("Adam/iter:0", data=np.int64(7))
        else:
            _write_layers(f, layer_list, keras_version)
