// safetensors-compatible weights files: u64 little-endian header length N, N bytes of JSON
// {"__metadata__": {str: str}, "<name>": {"dtype", "shape", "data_offsets": [begin, end]}}, then
// the data section (offsets are relative to its start). We write F32 only, tensors contiguous in
// sorted name order, the header space-padded so the data starts on an 8-byte boundary; we read F32
// and convert F16, BF16 and F64.
#include "sr/weights.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>

#include "sr/error.h"
#include "sr/io/atomic_file.h"
#include "sr/io/json_limits.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "weights.cpp assumes a little-endian host"
#endif

namespace sr {
namespace {

using json = nlohmann::json;

constexpr uint64_t kMaxHeaderBytes = 100ull << 20;  // real headers are kilobytes

std::string shape_str(const std::vector<int64_t>& dims) {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? "," : "") + std::to_string(dims[i]);
  return s + "]";
}

size_t dtype_size(const std::string& dtype) {
  if (dtype == "F32") return 4;
  if (dtype == "F16" || dtype == "BF16") return 2;
  if (dtype == "F64") return 8;
  return 0;
}

float half_to_float(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000) << 16;
  const int exp = (h >> 10) & 0x1F;
  const uint32_t mant = h & 0x3FF;
  float v;
  if (exp == 0) {
    v = std::ldexp(static_cast<float>(mant), -24);  // zero or subnormal
  } else if (exp == 31) {
    v = mant ? std::numeric_limits<float>::quiet_NaN() : std::numeric_limits<float>::infinity();
  } else {
    v = std::ldexp(static_cast<float>(mant | 0x400), exp - 25);
  }
  return sign ? -v : v;
}

// src: raw little-endian bytes of `count` elements of F16, BF16 or F64 -> dst: float32
void convert(const std::string& dtype, const char* src, size_t count, float* dst) {
  if (dtype == "F64") {
    for (size_t i = 0; i < count; ++i) {
      double d;
      std::memcpy(&d, src + 8 * i, 8);
      dst[i] = static_cast<float>(d);
    }
  } else if (dtype == "F16") {
    for (size_t i = 0; i < count; ++i) {
      uint16_t h;
      std::memcpy(&h, src + 2 * i, 2);
      dst[i] = half_to_float(h);
    }
  } else {  // BF16: the top half of a float32
    for (size_t i = 0; i < count; ++i) {
      uint16_t h;
      std::memcpy(&h, src + 2 * i, 2);
      uint32_t bits = uint32_t(h) << 16;
      std::memcpy(&dst[i], &bits, 4);
    }
  }
}

struct Entry {
  std::string name, dtype;
  std::vector<int64_t> dims;
  uint64_t begin = 0, end = 0, numel = 1;
};

// Parses one tensor's header entry, checking everything that does not need the file size.
Entry parse_entry(const std::string& path, const std::string& name, const json& j) {
  const std::string where = path + ": tensor '" + name + "'";
  if (!j.is_object()) fail(where, ": header entry is not an object");
  Entry e;
  e.name = name;
  auto dtype = j.find("dtype");
  if (dtype == j.end() || !dtype->is_string()) fail(where, ": missing dtype");
  e.dtype = dtype->get<std::string>();
  if (!dtype_size(e.dtype))
    fail(where, ": unsupported dtype '", e.dtype, "' (need F32, F16, BF16 or F64)");
  auto shape = j.find("shape");
  if (shape == j.end() || !shape->is_array()) fail(where, ": missing shape");
  for (const json& d : *shape) {
    if (!d.is_number_unsigned())
      fail(where, ": shape ", json_excerpt(*shape), " is not a list of sizes");
    uint64_t v = d.get<uint64_t>();
    if (v != 0 && e.numel > (uint64_t{1} << 40) / v)
      fail(where, ": absurd shape ", json_excerpt(*shape));
    e.numel *= v;
    e.dims.push_back(static_cast<int64_t>(v));
  }
  auto offsets = j.find("data_offsets");
  if (offsets == j.end() || !offsets->is_array() || offsets->size() != 2 ||
      !(*offsets)[0].is_number_unsigned() || !(*offsets)[1].is_number_unsigned())
    fail(where, ": missing or malformed data_offsets");
  e.begin = (*offsets)[0].get<uint64_t>();
  e.end = (*offsets)[1].get<uint64_t>();
  if (e.end < e.begin) fail(where, ": data_offsets [", e.begin, ", ", e.end, "] run backwards");
  const uint64_t need = e.numel * dtype_size(e.dtype);
  if (e.end - e.begin != need)
    fail(where, ": shape ", shape_str(e.dims), " of ", e.dtype, " needs ", need,
         " bytes but data_offsets span ", e.end - e.begin);
  return e;
}

}  // namespace

WeightFile load_weights(const std::string& path) {
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) fail(path, ": cannot open (", std::strerror(errno), ")");
  struct stat st;
  if (::fstat(::fileno(f.get()), &st) != 0 || !S_ISREG(st.st_mode))
    fail(path, ": not a regular file");
  if (std::fseek(f.get(), 0, SEEK_END) != 0) fail(path, ": cannot seek (not a regular file?)");
  const long size_l = std::ftell(f.get());
  if (size_l < 0) fail(path, ": cannot determine the file size");
  const uint64_t file_size = static_cast<uint64_t>(size_l);
  std::rewind(f.get());
  if (file_size < 8)
    fail(path, ": not a weights file (", file_size, " bytes, shorter than the 8-byte header size)");

  unsigned char len_bytes[8];
  if (std::fread(len_bytes, 1, 8, f.get()) != 8) fail(path, ": read error");
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = header_len << 8 | len_bytes[i];
  if (header_len > kMaxHeaderBytes)
    fail(path, ": not a safetensors file (header length ", header_len, " is absurd)");
  if (header_len > file_size - 8)
    fail(path, ": truncated: header says ", header_len, " bytes of JSON header, file has ",
         file_size - 8);
  std::string header(static_cast<size_t>(header_len), '\0');
  if (header_len && std::fread(&header[0], 1, header.size(), f.get()) != header.size())
    fail(path, ": read error in header");

  const json root = parse_json_bounded(header, path + ": not a safetensors file (header)");
  if (!root.is_object()) fail(path, ": not a safetensors file (header is not a JSON object)");

  WeightFile out;
  std::vector<Entry> entries;
  for (auto it = root.begin(); it != root.end(); ++it) {
    if (it.key() == "__metadata__") {
      if (!it->is_object()) fail(path, ": __metadata__ is not an object");
      for (auto m = it->begin(); m != it->end(); ++m) {
        if (!m->is_string()) fail(path, ": metadata value for '", m.key(), "' is not a string");
        out.metadata[m.key()] = m->get<std::string>();
      }
      continue;
    }
    entries.push_back(parse_entry(path, it.key(), *it));
  }

  const uint64_t data_size = file_size - 8 - header_len;
  uint64_t data_used = 0;
  for (const Entry& e : entries) data_used = std::max(data_used, e.end);
  if (data_used > data_size)
    fail(path, ": truncated: header says ", data_used, " bytes of tensor data, file has ",
         data_size);
  std::vector<const Entry*> order;  // by position in the data section
  for (const Entry& e : entries) order.push_back(&e);
  std::sort(order.begin(), order.end(),
            [](const Entry* a, const Entry* b) { return a->begin < b->begin; });
  const Entry* prev = nullptr;  // the last non-empty tensor
  for (const Entry* e : order) {
    if (e->end == e->begin) continue;
    if (prev && e->begin < prev->end)
      fail(path, ": tensors '", prev->name, "' and '", e->name, "' overlap in the data section");
    prev = e;
  }

  // Tensors are read straight into their own buffers in file order (sequential I/O, one copy in
  // memory); only the non-F32 ones go through a staging buffer for conversion. For a 600 MB file
  // this measured about twice as fast as reading the whole section into one buffer and copying
  // out, because touching fresh memory (page faults) dominates.
  const uint64_t data_start = 8 + header_len;
  std::vector<char> staging;
  for (const Entry* e : order) {
    HostWeight w;
    w.dims = e->dims;
    w.values.resize(static_cast<size_t>(e->numel));
    const uint64_t bytes = e->end - e->begin;
    if (bytes) {
      char* dst = reinterpret_cast<char*>(w.values.data());
      if (e->dtype != "F32") {
        staging.resize(static_cast<size_t>(bytes));
        dst = staging.data();
      }
      if (std::fseek(f.get(), static_cast<long>(data_start + e->begin), SEEK_SET) != 0 ||
          std::fread(dst, 1, bytes, f.get()) != bytes)
        fail(path, ": read error in tensor '", e->name, "'");
      if (e->dtype != "F32") convert(e->dtype, staging.data(), w.values.size(), w.values.data());
    }
    for (float v : w.values) {
      if (std::isnan(v)) fail(path, ": weight '", e->name, "' contains NaN");
      if (std::isinf(v)) fail(path, ": weight '", e->name, "' contains infinite values");
    }
    out.tensors.emplace(e->name, std::move(w));
  }
  return out;
}

void save_weights(const std::string& path, const WeightFile& file) {
  json header = json::object();
  if (!file.metadata.empty()) {
    json meta = json::object();
    for (const auto& [k, v] : file.metadata) meta[k] = v;
    header["__metadata__"] = meta;
  }
  uint64_t offset = 0;
  for (const auto& [name, w] : file.tensors) {  // std::map: sorted name order
    if (name == "__metadata__") fail(path, ": '__metadata__' cannot be a tensor name");
    uint64_t numel = 1;
    for (int64_t d : w.dims) {
      if (d < 0) fail(path, ": weight '", name, "' has a negative dimension ", shape_str(w.dims));
      numel *= static_cast<uint64_t>(d);
    }
    if (numel != w.values.size())
      fail(path, ": weight '", name, "' has shape ", shape_str(w.dims), " (", numel,
           " values) but holds ", w.values.size());
    for (float v : w.values)
      if (!std::isfinite(v))
        fail(path, ": weight '", name, "' contains NaN or infinite values; refusing to save");
    header[name] = {
        {"dtype", "F32"}, {"shape", w.dims}, {"data_offsets", {offset, offset + 4 * numel}}};
    offset += 4 * numel;
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const json::exception& e) {
    fail(path, ": cannot encode the header (", e.what(), ")");
  }
  text.append((8 - text.size() % 8) % 8, ' ');  // data section starts on an 8-byte boundary

  unsigned char len_bytes[8];
  for (int i = 0; i < 8; ++i) len_bytes[i] = static_cast<unsigned char>(text.size() >> (8 * i));

  AtomicFile atomic(path);
  {
    std::ofstream out(atomic.temp_path(), std::ios::binary);
    if (!out) fail(path, ": cannot open for writing (", std::strerror(errno), ")");
    out.write(reinterpret_cast<const char*>(len_bytes), 8);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    for (const auto& entry : file.tensors) {
      const std::vector<float>& v = entry.second.values;
      out.write(reinterpret_cast<const char*>(v.data()),
                static_cast<std::streamsize>(v.size() * sizeof(float)));
    }
    out.close();
    if (!out) fail(path, ": write failed (disk full?)");
  }
  atomic.commit();
}

void check_weights_match(const WeightFile& file,
                         const std::map<std::string, std::vector<int64_t>>& expected) {
  constexpr size_t kShow = 10;
  std::vector<std::string> missing, extra, shapes;
  for (const auto& [name, dims] : expected) {
    auto it = file.tensors.find(name);
    if (it == file.tensors.end())
      missing.push_back(name);
    else if (it->second.dims != dims)
      shapes.push_back(name + " has shape " + shape_str(it->second.dims) + ", expected " +
                       shape_str(dims));
  }
  for (const auto& entry : file.tensors)
    if (!expected.count(entry.first)) extra.push_back(entry.first);
  if (missing.empty() && extra.empty() && shapes.empty()) return;

  auto list = [&](const std::vector<std::string>& items) {
    std::string s;
    for (size_t i = 0; i < items.size() && i < kShow; ++i) s += (i ? ", " : "") + items[i];
    if (items.size() > kShow) s += " and " + std::to_string(items.size() - kShow) + " more";
    return s;
  };
  std::string msg = "weights do not match the network:";
  std::string sep = " ";
  if (!missing.empty()) msg += sep + "missing: " + list(missing), sep = "; ";
  if (!extra.empty()) msg += sep + "unexpected: " + list(extra), sep = "; ";
  if (!shapes.empty()) msg += sep + list(shapes);
  fail(msg);
}

}  // namespace sr
