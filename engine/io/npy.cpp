// NumPy .npy files: read v1/v2/v3 little-endian float32/float64 in C order, write '<f4' v1.0.
// Format: "\x93NUMPY", major, minor, header length (u16 for v1, u32 for v2/v3), then a Python dict
// literal {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } padded with spaces and '\n'.
#include "sr/io/npy.h"

#include <sys/stat.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <memory>

#include "sr/error.h"
#include "sr/io/atomic_file.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "npy.cpp assumes a little-endian host"
#endif

namespace sr {
namespace {

const char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicLen = 6;

// The subset of Python literal syntax numpy writes in a .npy header: a dict with string keys whose
// values are strings, True/False or tuples of integers.
class HeaderParser {
 public:
  HeaderParser(const std::string& text, const std::string& path) : s_(text), path_(path) {}

  void parse(std::string& descr, bool& fortran, std::vector<int64_t>& shape) {
    bool have_descr = false, have_fortran = false, have_shape = false;
    expect('{');
    while (true) {
      skip_space();
      if (peek() == '}') break;
      std::string key = string_literal();
      expect(':');
      skip_space();
      if (key == "descr") {
        if (peek() != '\'' && peek() != '"')
          bad("unsupported dtype (structured arrays are not supported; need '<f4' or '<f8')");
        descr = string_literal();
        have_descr = true;
      } else if (key == "fortran_order") {
        fortran = boolean();
        have_fortran = true;
      } else if (key == "shape") {
        shape = tuple();
        have_shape = true;
      } else {
        bad("unexpected header key '" + key + "'");
      }
      skip_space();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() == '}') break;
      bad("malformed header");
    }
    if (!have_descr || !have_fortran || !have_shape)
      bad("header lacks 'descr', 'fortran_order' or 'shape'");
  }

 private:
  [[noreturn]] void bad(const std::string& what) { fail(path_, ": not a valid .npy file: ", what); }
  char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  void skip_space() {
    while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
  }
  void expect(char c) {
    skip_space();
    if (peek() != c) bad(std::string("malformed header (expected '") + c + "')");
    ++pos_;
  }
  std::string string_literal() {
    skip_space();
    char q = peek();
    if (q != '\'' && q != '"') bad("malformed header (expected a string)");
    size_t end = s_.find(q, pos_ + 1);
    if (end == std::string::npos) bad("malformed header (unterminated string)");
    std::string out = s_.substr(pos_ + 1, end - pos_ - 1);
    pos_ = end + 1;
    return out;
  }
  bool boolean() {
    if (s_.compare(pos_, 4, "True") == 0) {
      pos_ += 4;
      return true;
    }
    if (s_.compare(pos_, 5, "False") == 0) {
      pos_ += 5;
      return false;
    }
    bad("malformed header ('fortran_order' is not True or False)");
  }
  std::vector<int64_t> tuple() {
    expect('(');
    std::vector<int64_t> dims;
    while (true) {
      skip_space();
      if (peek() == ')') break;
      if (!std::isdigit(static_cast<unsigned char>(peek()))) bad("malformed 'shape'");
      int64_t v = 0;
      while (std::isdigit(static_cast<unsigned char>(peek()))) {
        if (v > (std::numeric_limits<int64_t>::max() - 9) / 10) bad("absurd 'shape'");
        v = v * 10 + (s_[pos_++] - '0');
      }
      dims.push_back(v);
      skip_space();
      if (peek() == ',')
        ++pos_;
      else if (peek() != ')')
        bad("malformed 'shape'");
    }
    ++pos_;
    return dims;
  }

  const std::string& s_;
  const std::string& path_;
  size_t pos_ = 0;
};

std::string shape_tuple(const std::vector<int64_t>& dims) {
  std::string s = "(";
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(dims[i]);
  }
  if (dims.size() == 1) s += ",";
  return s + ")";
}

}  // namespace

NpyArray read_npy(const std::string& path) {
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) fail(path, ": cannot open (", std::strerror(errno), ")");
  struct stat st;
  if (::fstat(::fileno(f.get()), &st) != 0 || !S_ISREG(st.st_mode))
    fail(path, ": not a regular file");
  if (std::fseek(f.get(), 0, SEEK_END) != 0) fail(path, ": cannot seek (not a regular file?)");
  const int64_t file_size = std::ftell(f.get());
  std::rewind(f.get());

  unsigned char pre[12];
  if (file_size < 10 || std::fread(pre, 1, 10, f.get()) != 10 ||
      std::memcmp(pre, kMagic, kMagicLen) != 0)
    fail(path, ": not a .npy file (bad magic)");
  const int major = pre[6];
  int64_t header_len = 0, header_start = 10;
  if (major == 1) {
    header_len = pre[8] | pre[9] << 8;
  } else if (major == 2 || major == 3) {
    if (std::fread(pre + 10, 1, 2, f.get()) != 2) fail(path, ": truncated .npy header");
    header_len =
        int64_t(pre[8]) | int64_t(pre[9]) << 8 | int64_t(pre[10]) << 16 | int64_t(pre[11]) << 24;
    header_start = 12;
  } else {
    fail(path, ": unsupported .npy version ", major, ".", int(pre[7]));
  }
  if (header_start + header_len > file_size)
    fail(path, ": truncated: header says ", header_len, " header bytes, file has ",
         file_size - header_start);
  std::string header(static_cast<size_t>(header_len), '\0');
  if (std::fread(&header[0], 1, header.size(), f.get()) != header.size())
    fail(path, ": read error in header");

  std::string descr;
  bool fortran = false;
  NpyArray array;
  HeaderParser(header, path).parse(descr, fortran, array.dims);
  size_t item = 0;
  if (descr == "<f4")
    item = 4;
  else if (descr == "<f8")
    item = 8;
  else if (descr == ">f4" || descr == ">f8")
    fail(path, ": big-endian data ('", descr, "') is not supported; save it little-endian");
  else
    fail(path, ": unsupported dtype '", descr, "' (need float32 '<f4' or float64 '<f8')");
  int64_t numel = 1;
  for (int64_t d : array.dims) {
    if (d != 0 && numel > std::numeric_limits<int64_t>::max() / 8 / d)
      fail(path, ": absurd shape ", shape_tuple(array.dims));
    numel *= d;
  }
  if (fortran && array.dims.size() > 1)
    fail(path, ": Fortran-order arrays are not supported; save with np.ascontiguousarray");

  const int64_t data_bytes = numel * static_cast<int64_t>(item);
  const int64_t available = file_size - header_start - header_len;
  if (data_bytes > available)
    fail(path, ": truncated: shape ", shape_tuple(array.dims), " needs ", data_bytes,
         " bytes of data, file has ", available);
  array.values.resize(static_cast<size_t>(numel));
  if (item == 4) {
    if (std::fread(array.values.data(), 4, array.values.size(), f.get()) != array.values.size())
      fail(path, ": read error in data");
  } else {
    std::vector<double> tmp(static_cast<size_t>(numel));
    if (std::fread(tmp.data(), 8, tmp.size(), f.get()) != tmp.size())
      fail(path, ": read error in data");
    for (size_t i = 0; i < tmp.size(); ++i) array.values[i] = static_cast<float>(tmp[i]);
  }
  return array;
}

void write_npy(const std::string& path, const NpyArray& array) {
  int64_t numel = 1;
  for (int64_t d : array.dims) {
    if (d < 0) fail(path, ": cannot write negative dimension ", d);
    numel *= d;
  }
  if (static_cast<size_t>(numel) != array.values.size())
    fail(path, ": shape ", shape_tuple(array.dims), " holds ", numel, " values, array has ",
         array.values.size());

  std::string dict =
      "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape_tuple(array.dims) + ", }";
  // Pad with spaces and a final '\n' so the data starts on a 64-byte boundary (numpy's alignment).
  size_t preamble = 10;
  size_t total = (preamble + dict.size() + 1 + 63) / 64 * 64;
  if (total - preamble > 65535) {  // too long for a u16 length: version 2.0 has a u32
    preamble = 12;
    total = (preamble + dict.size() + 1 + 63) / 64 * 64;
  }
  const size_t header_len = total - preamble;
  std::string header = dict + std::string(header_len - dict.size() - 1, ' ') + "\n";

  std::string pre(kMagic, kMagicLen);
  pre += static_cast<char>(preamble == 10 ? 1 : 2);
  pre += '\0';
  for (size_t i = 0; i < preamble - 8; ++i)
    pre += static_cast<char>((header_len >> (8 * i)) & 0xFF);

  AtomicFile file(path);
  {
    std::ofstream out(file.temp_path(), std::ios::binary);
    if (!out) fail(path, ": cannot open for writing (", std::strerror(errno), ")");
    out.write(pre.data(), static_cast<std::streamsize>(pre.size()));
    out.write(header.data(), static_cast<std::streamsize>(header.size()));
    out.write(reinterpret_cast<const char*>(array.values.data()),
              static_cast<std::streamsize>(array.values.size() * sizeof(float)));
    out.close();
    if (!out) fail(path, ": write failed (disk full?)");
  }
  file.commit();
}

}  // namespace sr
