// ap_oracle.cpp -- bit-exact oracle for conversions from double to the
// Vivado/Vitis HLS arbitrary-precision types shipped inside hls4ml
// (ap_fixed, ap_ufixed, ap_int, ap_uint).
//
// This file is not compiled on its own.  tests/ap_oracle.py writes small
// "shard" translation units that #include it and list the template
// instantiations they need (one table entry per type), plus one unit compiled
// with -DAPO_MAIN that holds main().  The shards are compiled in parallel and
// linked into one program; each shard registers its entries at start-up.
//
// Entry kinds (the integers are shared with tests/ap_oracle.py):
//   KIND_FIXED       ap_fixed<W,I,Q,O> (S=1) or ap_ufixed<W,I,Q,O> (S=0)
//                    built from a double; returns the raw W-bit pattern and
//                    to_double() of the result.
//   KIND_FIXED_BITS  the same, raw W-bit pattern only (cheaper to compile).
//   KIND_INT         ap_int<W> (S=1) or ap_uint<W> (S=0) built from a
//                    double; returns the raw W-bit pattern and to_double().
//   KIND_TODOUBLE    ap_fixed<W,I> / ap_ufixed<W,I> whose W-bit pattern is
//                    set from the input; returns the pattern and to_double().
//                    The quantization/overflow modes take no part in
//                    to_double(), so one instantiation per (W, I, S) serves
//                    all 28 mode pairs.

// Q and O are indices into kQModes / kOModes below (same order as
// ap_oracle.Q_MODES / ap_oracle.O_MODES in Python).
//
// Command line:
//   ap_oracle TABLE PAYLOAD OUT_BITS OUT_VALUES
//     TABLE    int64[nrec][7] = {kind, W, I, S, Q, O, n} per record
//     PAYLOAD  8 bytes per element, records back to back: doubles, or
//              uint64 bit patterns for KIND_TODOUBLE
//     OUT_BITS uint64 per element: the W-bit pattern (zero-extended)
//     OUT_VALUES float64 per element: to_double() of the result
//   ap_oracle --list
//     print the registered entries (kind W I S Q O), one per line
// All files are in native byte order.  Exit status 0 on success, 2 when a
// requested entry was not compiled in, 1 on I/O errors.

#include <ap_fixed.h>
#include <ap_int.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <tuple>
#include <vector>

namespace apo {

enum Kind {
  KIND_FIXED = 0,
  KIND_INT = 1,
  KIND_TODOUBLE = 2,
  KIND_FIXED_BITS = 3
};

constexpr ap_q_mode kQModes[7] = {AP_TRN,     AP_TRN_ZERO,    AP_RND,
                                  AP_RND_ZERO, AP_RND_INF,     AP_RND_MIN_INF,
                                  AP_RND_CONV};
constexpr ap_o_mode kOModes[4] = {AP_WRAP, AP_SAT, AP_SAT_ZERO, AP_SAT_SYM};

/// One oracle routine: n inputs (doubles, or bit patterns for
/// KIND_TODOUBLE, passed as raw 8-byte words) -> n bit patterns + n values.
typedef void (*Fn)(const uint64_t* in, size_t n, uint64_t* bits, double* val);

struct Entry {
  int kind, w, i, s, q, o;
  Fn fn;
};

inline uint64_t low_bits(uint64_t v, int w) {
  return w >= 64 ? v : (v & ((uint64_t(1) << w) - 1));
}

inline double as_double(uint64_t word) {
  double d;
  std::memcpy(&d, &word, sizeof d);
  return d;
}

/// ap_fixed<W,I,Q,O> for S, ap_ufixed<W,I,Q,O> otherwise.
template <int W, int I, bool S, ap_q_mode Q, ap_o_mode O>
struct FixedType {
  typedef ap_fixed<W, I, Q, O> type;
};
template <int W, int I, ap_q_mode Q, ap_o_mode O>
struct FixedType<W, I, false, Q, O> {
  typedef ap_ufixed<W, I, Q, O> type;
};

/// ap_int<W> for S, ap_uint<W> otherwise.
template <int W, bool S>
struct IntType {
  typedef ap_int<W> type;
};
template <int W>
struct IntType<W, false> {
  typedef ap_uint<W> type;
};

/// KIND_FIXED: the type's constructor from double, exactly as user code
/// does; returns the bit pattern and to_double() of the result.
template <int W, int I, bool S, ap_q_mode Q, ap_o_mode O>
void conv_fixed(const uint64_t* in, size_t n, uint64_t* bits, double* val) {
  typedef typename FixedType<W, I, S, Q, O>::type T;
  for (size_t k = 0; k < n; ++k) {
    const T v(as_double(in[k]));
    bits[k] = low_bits(v.bits_to_uint64(), W);
    val[k] = v.to_double();
  }
}

/// KIND_FIXED_BITS: as conv_fixed, bit pattern only (val is left untouched).
/// Instantiating to_double() costs g++ about a third as much again as the
/// constructor, and it does not depend on Q and O, so the sweep computes it
/// separately (KIND_TODOUBLE).
template <int W, int I, bool S, ap_q_mode Q, ap_o_mode O>
void conv_fixed_bits(const uint64_t* in, size_t n, uint64_t* bits,
                     double* val) {
  typedef typename FixedType<W, I, S, Q, O>::type T;
  (void)val;
  for (size_t k = 0; k < n; ++k) {
    const T v(as_double(in[k]));
    bits[k] = low_bits(v.bits_to_uint64(), W);
  }
}

/// KIND_INT: ap_int<W>(double) / ap_uint<W>(double).
template <int W, bool S>
void conv_int(const uint64_t* in, size_t n, uint64_t* bits, double* val) {
  typedef typename IntType<W, S>::type T;
  for (size_t k = 0; k < n; ++k) {
    const T v(as_double(in[k]));
    bits[k] = low_bits(v.to_uint64(), W);
    val[k] = v.to_double();
  }
}

/// KIND_TODOUBLE: to_double() of the W-bit pattern read as ap_(u)fixed<W,I>.
template <int W, int I, bool S>
void to_double_fixed(const uint64_t* in, size_t n, uint64_t* bits,
                     double* val) {
  typedef typename FixedType<W, I, S, AP_TRN, AP_WRAP>::type T;
  for (size_t k = 0; k < n; ++k) {
    T v;
    v.range(W - 1, 0) = (ap_ulong)low_bits(in[k], W);
    bits[k] = low_bits(v.bits_to_uint64(), W);
    val[k] = v.to_double();
  }
}

typedef std::tuple<int, int, int, int, int, int> Key;

/// All entries linked into the program, filled by the shards' Registrars.
inline std::map<Key, Fn>& registry() {
  static std::map<Key, Fn> r;
  return r;
}

struct Registrar {
  Registrar(const Entry* e, size_t n) {
    for (size_t k = 0; k < n; ++k)
      registry()[Key(e[k].kind, e[k].w, e[k].i, e[k].s, e[k].q, e[k].o)] =
          e[k].fn;
  }
};

}  // namespace apo

#ifdef APO_MAIN

namespace {

std::vector<char> read_file(const char* path) {
  std::vector<char> buf;
  FILE* f = std::fopen(path, "rb");
  if (!f) {
    std::fprintf(stderr, "ap_oracle: cannot open %s\n", path);
    std::exit(1);
  }
  char chunk[1 << 16];
  size_t got;
  while ((got = std::fread(chunk, 1, sizeof chunk, f)) > 0)
    buf.insert(buf.end(), chunk, chunk + got);
  std::fclose(f);
  return buf;
}

void write_file(const char* path, const void* data, size_t bytes) {
  FILE* f = std::fopen(path, "wb");
  if (!f || std::fwrite(data, 1, bytes, f) != bytes || std::fclose(f) != 0) {
    std::fprintf(stderr, "ap_oracle: cannot write %s\n", path);
    std::exit(1);
  }
}

}  // namespace

int main(int argc, char** argv) {
  using namespace apo;
  if (argc == 2 && std::strcmp(argv[1], "--list") == 0) {
    for (const auto& kv : registry())
      std::printf("%d %d %d %d %d %d\n", std::get<0>(kv.first),
                  std::get<1>(kv.first), std::get<2>(kv.first),
                  std::get<3>(kv.first), std::get<4>(kv.first),
                  std::get<5>(kv.first));
    return 0;
  }
  if (argc != 5) {
    std::fprintf(stderr,
                 "usage: %s TABLE PAYLOAD OUT_BITS OUT_VALUES | --list\n",
                 argv[0]);
    return 1;
  }
  const std::vector<char> table_raw = read_file(argv[1]);
  const std::vector<char> payload_raw = read_file(argv[2]);
  if (table_raw.size() % (7 * sizeof(int64_t)) != 0 ||
      payload_raw.size() % sizeof(uint64_t) != 0) {
    std::fprintf(stderr, "ap_oracle: malformed input sizes\n");
    return 1;
  }
  const size_t nrec = table_raw.size() / (7 * sizeof(int64_t));
  const size_t total = payload_raw.size() / sizeof(uint64_t);
  std::vector<int64_t> table(nrec * 7);
  std::vector<uint64_t> payload(total);
  if (nrec) std::memcpy(table.data(), table_raw.data(), table_raw.size());
  if (total) std::memcpy(payload.data(), payload_raw.data(), payload_raw.size());

  std::vector<uint64_t> bits(total);
  std::vector<double> vals(total);
  size_t off = 0;
  for (size_t r = 0; r < nrec; ++r) {
    const int64_t* t = &table[7 * r];
    const size_t n = (size_t)t[6];
    if (off + n > total) {
      std::fprintf(stderr, "ap_oracle: payload too short at record %zu\n", r);
      return 1;
    }
    const Key key((int)t[0], (int)t[1], (int)t[2], (int)t[3], (int)t[4],
                  (int)t[5]);
    const auto it = registry().find(key);
    if (it == registry().end()) {
      std::fprintf(stderr,
                   "ap_oracle: no entry kind=%d W=%d I=%d S=%d Q=%d O=%d\n",
                   (int)t[0], (int)t[1], (int)t[2], (int)t[3], (int)t[4],
                   (int)t[5]);
      return 2;
    }
    it->second(&payload[off], n, &bits[off], &vals[off]);
    off += n;
  }
  if (off != total) {
    std::fprintf(stderr, "ap_oracle: %zu unused payload words\n", total - off);
    return 1;
  }
  write_file(argv[3], bits.data(), total * sizeof(uint64_t));
  write_file(argv[4], vals.data(), total * sizeof(double));
  return 0;
}

#endif  // APO_MAIN
