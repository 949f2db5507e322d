// attnlab softmax: every softmax / log-sum-exp variant of attn/softmax.hpp on one
// row, with what overflowed or underflowed, the error against a long-double
// reference and the bound the header states; --explain walks through the lesson
// with the row's own numbers. fp32 and fp64 run the library itself; fp16 and bf16
// are simulated (every operation's result rounded to the format).
#include "commands.hpp"
#include "npy.hpp"
#include "precision.hpp"
#include "table.hpp"

#include <attn/softmax.hpp>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <limits>
#include <memory>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

namespace attnlab {

namespace {

namespace sm = attn::softmax;
using Row = std::vector<double>;
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

struct SoftmaxOptions {
  std::vector<std::string> values;
  std::string file;  // a .npy row
  std::size_t random = 0;
  bool random_given = false;
  double scale = 1.0, offset = 0.0;
  std::uint64_t seed = 1;
  std::string precision = "fp32";
  bool explain = false;
  std::size_t show = 8;
};

// ---- Input --------------------------------------------------------------------

double parse_value(const std::string& text, std::size_t index) {
  errno = 0;
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size())
    throw std::invalid_argument("value " + std::to_string(index + 1) + " ('" + text +
                                "') is not a number (use e.g. 1.5, -2e3, inf, -inf, nan)");
  if (errno == ERANGE && std::isinf(v))
    throw std::invalid_argument("value " + std::to_string(index + 1) + " ('" + text + "') is beyond the range of fp64");
  return v;
}

/// The row as given (parsed in fp64, or read from the file) and as stored in the chosen format.
struct InputRow {
  Row given, x;
  bool generated = false;  // --random: nothing the user typed to report rounding of
};

InputRow input_row(const SoftmaxOptions& o, const Format& f) {
  const int sources = !o.values.empty() + o.random_given + !o.file.empty();
  if (sources > 1) throw std::invalid_argument("give one input: values, --random N or --file row.npy");
  if (sources == 0)
    throw std::invalid_argument(
        "no input: give values (e.g. `attnlab softmax 1000 1001 1002`), --random N or --file row.npy");
  if (!(o.scale >= 0) || !std::isfinite(o.scale))
    throw std::invalid_argument("--scale: must be a finite number >= 0, got " + std::to_string(o.scale));
  if (!std::isfinite(o.offset)) throw std::invalid_argument("--offset: must be finite");
  if (o.show < 1) throw std::invalid_argument("--show: must be >= 1");
  if (o.random_given && o.random == 0) throw std::invalid_argument("--random: expected a number of values >= 1, got 0");
  Row x;
  if (o.random) {
    if (o.random > (std::size_t{1} << 26))
      throw std::invalid_argument("--random: at most 67108864 values, got " + std::to_string(o.random));
    std::mt19937_64 gen(o.seed);
    std::normal_distribution<double> dist(o.offset, o.scale);
    x.resize(o.random);
    for (double& v : x) v = dist(gen);
  } else if (!o.file.empty()) {
    const npy::Array a = npy::read(o.file);
    if (a.shape.size() > 1 && std::count_if(a.shape.begin(), a.shape.end(), [](std::int64_t s) { return s != 1; }) > 1)
      throw std::invalid_argument("--file: " + o.file +
                                  ": expected one row (1-D, or one non-unit dimension), got shape " +
                                  npy::shape_string(a.shape));
    if (a.data.empty()) throw std::invalid_argument("--file: " + o.file + ": the row is empty");
    if (a.converted) std::cerr << "attnlab softmax: " << o.file << " holds float64; read as float32\n";
    x.assign(a.data.begin(), a.data.end());
  } else {
    for (std::size_t i = 0; i < o.values.size(); ++i) x.push_back(parse_value(o.values[i], i));
  }
  InputRow row{x, x, o.random > 0};
  for (double& v : row.x) v = f.round(v);  // the row as stored in the chosen format
  return row;
}

// ---- Formatting -------------------------------------------------------------------

std::string num(double v, int digits = 6) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*g", digits, v);
  return buf;
}

/// "[a, b, …]": `digits` significant digits, or with fixed_point that many decimals.
std::string list(const Row& v, std::size_t show, int digits = 6, bool fixed_point = false) {
  std::string s = "[";
  for (std::size_t i = 0; i < v.size() && i < show; ++i)
    s += (i ? ", " : "") + (fixed_point ? fixed(v[i], digits) : num(v[i], digits));
  if (v.size() > show) s += ", … (" + std::to_string(v.size() - show) + " more)";
  return s + "]";
}

// ---- The variants in one precision -----------------------------------------------
//
// fp32/fp64: the library functions on float/double copies of the row. fp16/bf16: the
// same algorithms with every operation's result rounded to the format (Higham's
// "chop" simulation): the storage precision is what makes exp overflow early.

struct Variant {
  std::string name, passes;
  std::function<double(const Row&, Row&)> softmax;  // returns the log-sum-exp
  std::function<double(const Row&, double)> bound;  // stated relative bound for entry x_i given a
  bool shifted;                                     // exp of x − max (else of x)
  bool flushes = false;                             // its exp returns 0 below the normal range
};

struct LseForm {
  std::string name;
  std::function<double(const Row&)> f;
};

template <class T>
std::vector<T> as(const Row& x) {
  return std::vector<T>(x.begin(), x.end());
}
template <class T>
void back(const std::vector<T>& y, Row& out) {
  out.assign(y.begin(), y.end());
}

template <class T>
double lib_call(T (*fn)(const T*, T*, std::size_t), const Row& x, Row& out) {
  const std::vector<T> xt = as<T>(x);
  std::vector<T> y(x.size());
  const double lse = fn(xt.data(), y.data(), x.size());
  back(y, out);
  return lse;
}

struct Sim {
  const Format& f;
  double r(double v) const { return f.round(v); }
  double exp(double v) const { return r(std::exp(v)); }
  double max(const Row& x, bool& nan) const {
    double a = -kInf;
    nan = false;
    for (double v : x) {
      a = v > a ? v : a;
      nan |= v != v;
    }
    return a;
  }
  bool special(double a, bool nan, Row& y, std::size_t n, double& lse) const {
    if (!nan && a != kInf && a != -kInf) return false;
    const bool poisoned = nan || a == kInf;  // NaN weights; else the masked row: 0 weights
    y.assign(n, poisoned ? kNaN : 0.0);
    lse = poisoned ? kNaN : -kInf;
    return true;
  }
  double naive(const Row& x, Row& y) const {
    double s = 0;
    bool mass = false, nan = false;
    for (double v : x) {
      s = r(s + exp(v));
      mass |= v > -kInf;
      nan |= v != v;
    }
    if (!mass && !nan) {
      y.assign(x.size(), 0.0);
      return -kInf;
    }
    y.resize(x.size());
    for (std::size_t i = 0; i < x.size(); ++i) y[i] = r(exp(x[i]) / s);
    return r(std::log(s));
  }
  double safe(const Row& x, Row& y) const {
    bool nan;
    const double a = max(x, nan);
    double lse;
    if (special(a, nan, y, x.size(), lse)) return lse;
    double s = 0;
    for (double v : x) s = r(s + exp(r(v - a)));
    const double inv = r(1 / s);
    y.resize(x.size());
    for (std::size_t i = 0; i < x.size(); ++i) y[i] = r(exp(r(x[i] - a)) * inv);
    return r(a + r(std::log(s)));
  }
  double online(const Row& x, Row& y) const {
    double m = -kInf, l = 0;
    for (double v : x) {
      if (v > m) {
        l = r(r(l * exp(r(m - v))) + 1);
        m = v;
      } else if (v != -kInf) {
        l = r(l + exp(r(v - m)));
      }
    }
    if (m == kInf) l = kNaN;
    if (l != l || m == -kInf) {  // NaN seen, or the masked row
      y.assign(x.size(), l != l ? kNaN : 0.0);
      return l != l ? kNaN : -kInf;
    }
    const double inv = r(1 / l);
    y.resize(x.size());
    for (std::size_t i = 0; i < x.size(); ++i) y[i] = r(exp(r(x[i] - m)) * inv);
    return r(m + r(std::log(l)));
  }
  double lse_basic(const Row& x) const {
    double s = 0;
    for (double v : x) s = r(s + exp(v));
    return r(std::log(s));
  }
  double lse_shifted(const Row& x) const {
    bool nan;
    const double a = max(x, nan);
    if (nan || std::isinf(a)) return nan ? kNaN : a;
    double s = 0;
    for (double v : x) s = r(s + exp(r(v - a)));
    return r(a + r(std::log(s)));
  }
  double lse_bhh(const Row& x) const {
    bool nan;
    const double a = max(x, nan);
    if (nan || std::isinf(a)) return nan ? kNaN : a;
    double s = 0;
    bool skipped = false;
    for (double v : x) {
      if (!skipped && v == a)
        skipped = true;
      else
        s = r(s + exp(r(v - a)));
    }
    return r(a + r(std::log1p(s)));
  }
};

template <class T>
std::function<double(const Row&, Row&)> lib(T (*fn)(const T*, T*, std::size_t)) {
  return [fn](const Row& x, Row& y) { return lib_call<T>(fn, x, y); };
}

template <class T>
std::function<double(const Row&)> lib_lse(T (*fn)(const T*, std::size_t)) {
  return [fn](const Row& x) {
    const std::vector<T> t = as<T>(x);
    return static_cast<double>(fn(t.data(), t.size()));
  };
}

template <class T>
void library_variants(double u, std::vector<Variant>& vs, std::vector<LseForm>& lse) {
  vs.push_back(
      {"naive", "2", lib<T>(sm::naive<T>), [u](const Row& x, double) { return (double(x.size()) + 4) * u; }, false});
  vs.push_back({"safe", "3", lib<T>(sm::safe<T>),
                [u](const Row& x, double d) { return (d + 2 * double(x.size()) + 6) * u; }, true});
  vs.push_back({"online", "2", lib<T>(sm::online<T>),
                [u](const Row& x, double d) { return (d + 6 * double(x.size()) + 6) * u; }, true});
  if constexpr (std::is_same_v<T, float>) {
    vs.push_back({"vectorised", "3, or 2 from 2^18",
                  [](const Row& x, Row& y) {
                    std::vector<float> t = as<float>(x);
                    const double l = sm::stable_inplace(t.data(), t.size());
                    back(t, y);
                    return l;
                  },
                  [u](const Row& x, double d) { return (d + 2 * double(x.size()) + 12) * u; }, true, true});
  }
  lse.push_back({"basic: log Σ exp(x_i)", lib_lse<T>(sm::logsumexp_basic<T>)});
  lse.push_back({"shifted: a + log Σ exp(x_i − a)", lib_lse<T>(sm::logsumexp_shifted<T>)});
  lse.push_back({"BHH: a + log1p(Σ_{i≠k} exp(x_i − a))", lib_lse<T>(sm::logsumexp<T>)});
  lse.push_back({"online: m + log l", [](const Row& x) {
                   const std::vector<T> t = as<T>(x);
                   return static_cast<double>(sm::lse(sm::online_partial(t.data(), t.size())));
                 }});
}

/// The variants and log-sum-exp forms for format `f` (the library for fp32/fp64).
void variants_for(const Format& f, std::vector<Variant>& vs, std::vector<LseForm>& lse) {
  const double u = f.unit_roundoff();
  if (f.name == "fp32") return library_variants<float>(u, vs, lse);
  if (f.name == "fp64") return library_variants<double>(u, vs, lse);
  const Sim s{f};
  vs.push_back({"naive (simulated)", "2", [s](const Row& x, Row& y) { return s.naive(x, y); },
                [u](const Row& x, double) { return (double(x.size()) + 4) * u; }, false});
  vs.push_back({"safe (simulated)", "3", [s](const Row& x, Row& y) { return s.safe(x, y); },
                [u](const Row& x, double d) { return (d + 2 * double(x.size()) + 6) * u; }, true});
  vs.push_back({"online (simulated)", "2", [s](const Row& x, Row& y) { return s.online(x, y); },
                [u](const Row& x, double d) { return (d + 6 * double(x.size()) + 6) * u; }, true});
  lse.push_back({"basic: log Σ exp(x_i)", [s](const Row& x) { return s.lse_basic(x); }});
  lse.push_back({"shifted: a + log Σ exp(x_i − a)", [s](const Row& x) { return s.lse_shifted(x); }});
  lse.push_back({"BHH: a + log1p(Σ_{i≠k} exp(x_i − a))", [s](const Row& x) { return s.lse_bhh(x); }});
}

// ---- Thresholds and events -----------------------------------------------------------

struct Thresholds {
  double overflow;  ///< exp(x) = inf above this
  double normal;    ///< exp(x) subnormal below this
  double zero;      ///< exp(x) = 0 below this
  bool exact;       ///< grid-exact (fp32/fp64, from the library) or the real-valued boundary
};

Thresholds thresholds(const Format& f) {
  if (f.name == "fp32")
    return {sm::exp_overflow_threshold<float>(), sm::exp_normal_threshold<float>(), sm::exp_zero_threshold<float>(),
            true};
  if (f.name == "fp64")
    return {sm::exp_overflow_threshold<double>(), sm::exp_normal_threshold<double>(), sm::exp_zero_threshold<double>(),
            true};
  // Real-valued boundaries: max + ulp/2 = 2^emax·(2 − 2^-p) rounds to inf; min − denorm/2
  // rounds up to min; denorm/2 rounds (tie to even) to 0.
  return {std::log(std::ldexp(2.0 - std::ldexp(1.0, -f.digits), f.max_exp)),
          std::log(f.min_normal() - f.denorm_min() / 2), std::log(f.denorm_min() / 2), false};
}

/// What happened to the exps a variant takes: of x itself (naive) or of x − max;
/// `flushes`: the variant's exp returns 0 where the result would be subnormal.
struct Events {
  std::size_t overflow = 0, subnormal = 0, zero = 0;
};

Events exp_events(const Row& x, const Format& f, bool shifted, bool flushes) {
  double a = -kInf;
  for (double v : x) a = v > a ? v : a;
  Events e;
  if (shifted && !std::isfinite(a)) return e;
  for (double v : x) {
    if (std::isnan(v) || v == -kInf) continue;  // NaN is not an overflow; −inf is a mask, not an underflow
    const double arg = shifted ? f.round(v - a) : v;
    const double ev = f.round(std::exp(arg));
    if (std::isinf(ev))
      ++e.overflow;
    else if (ev == 0 || (flushes && ev < f.min_normal()))
      ++e.zero;
    else if (ev < f.min_normal())
      ++e.subnormal;
  }
  return e;
}

std::string underflow_text(const Events& e) {
  if (!e.zero && !e.subnormal) return "0";
  std::string s;
  if (e.zero) s += std::to_string(e.zero) + " → 0";
  if (e.subnormal) s += std::string(s.empty() ? "" : ", ") + std::to_string(e.subnormal) + " subnormal";
  return s;
}

// ---- Errors against the reference ------------------------------------------------------

struct Error {
  double max_rel = 0;  ///< max over weights ≥ the smallest normal of |ŷ − y| / y; NaN when a weight is not finite
  std::size_t nonfinite = 0;  ///< NaN or inf weights: never within any bound
  bool within = true;         ///< every weight finite and within its stated bound (plus the smallest-normal floor)
  double bound = 0;           ///< the largest stated relative bound over the row
};

Error weight_error(const Row& x, const Row& y, const std::vector<long double>& ref, const Format& f,
                   const std::function<double(const Row&, double)>& bound) {
  Error e;
  double a = -kInf;
  for (double v : x) a = v > a ? v : a;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double b = bound(x, std::isfinite(x[i]) ? std::abs(x[i] - a) : 0.0);
    e.bound = std::max(e.bound, b);
    if (!std::isfinite(y[i])) {
      ++e.nonfinite;
      e.within = false;
      continue;
    }
    if (!std::isfinite(static_cast<double>(ref[i]))) {  // a finite weight where the exact one is NaN
      e.within = false;
      continue;
    }
    const long double err = std::abs(static_cast<long double>(y[i]) - ref[i]);
    if (err > b * ref[i] + f.min_normal()) e.within = false;
    if (ref[i] >= f.min_normal()) e.max_rel = std::max(e.max_rel, static_cast<double>(err / ref[i]));
  }
  if (e.nonfinite) e.max_rel = kNaN;
  return e;
}

/// What the row holds besides finite numbers; every sentence about NaN and inf derives from it.
struct RowFacts {
  std::size_t n = 0, nan = 0, pos_inf = 0, neg_inf = 0;
  double max = -kInf;  ///< the largest non-NaN value
  bool finite() const { return nan + pos_inf + neg_inf == 0; }
  bool all_masked() const { return neg_inf == n; }
};

RowFacts facts_of(const Row& x) {
  RowFacts r;
  r.n = x.size();
  for (double v : x) {
    if (std::isnan(v))
      ++r.nan;
    else if (v == kInf)
      ++r.pos_inf;
    else if (v == -kInf)
      ++r.neg_inf;
    r.max = v > r.max ? v : r.max;
  }
  return r;
}

bool all_nan(const Row& y) {
  return std::all_of(y.begin(), y.end(), [](double w) { return std::isnan(w); });
}

std::string count_of(std::size_t k, std::size_t n) {
  return k == n ? (n == 1 ? "the only one" : "all " + std::to_string(n))
                : std::to_string(k) + " of " + std::to_string(n);
}

/// The 'within' cell: yes, or why not, from what the weights and the row are.
std::string within_text(const Error& err, const RowFacts& rf, const Events& ev, bool shifted, const Row& y) {
  if (err.within) return "yes";
  if (err.nonfinite) {
    std::string why;
    if (rf.nan)
      why = "nan in x";
    else if (rf.pos_inf)
      why = "inf in x";
    else if (ev.overflow)
      why = "exp overflow";
    else if (all_nan(y))
      why = "0/0";
    return "no: " + std::to_string(err.nonfinite) + " nan" + (why.empty() ? "" : " (" + why + ")");
  }
  // Finite weights outside the bound: the bound presumes every exp in range, which the naive formula does not ensure.
  if (!shifted && (ev.overflow || ev.zero || ev.subnormal)) return "n/a: exp out of range";
  return "NO";
}

// ---- The command ------------------------------------------------------------------------

void print_tables(const Row& x, const Format& f, std::size_t show, std::ostream& os) {
  std::vector<Variant> vs;
  std::vector<LseForm> forms;
  variants_for(f, vs, forms);
  std::vector<long double> ref(x.size());
  const long double lse_ref = sm::reference(x.data(), ref.data(), x.size());

  Table t({"variant", "passes", "weights", "Σ weights", "exp overflow", "exp underflow", "max rel err", "stated bound",
           "within"});
  const RowFacts rf = facts_of(x);
  for (const Variant& v : vs) {
    Row y;
    v.softmax(x, y);
    long double sum = 0;
    for (double w : y) sum += w;
    const Events ev = exp_events(x, f, v.shifted, v.flushes);
    const Error err = weight_error(x, y, ref, f, v.bound);
    t.add_row({v.name, v.passes, list(y, show), num(static_cast<double>(sum), 7), std::to_string(ev.overflow),
               underflow_text(ev), err.nonfinite ? "nan" : sci(err.max_rel),
               std::isfinite(err.bound) ? sci(err.bound) : "n/a: x not finite",
               within_text(err, rf, ev, v.shifted, y)});
  }
  Row r(ref.begin(), ref.end());
  long double ref_sum = 0;
  for (long double w : ref) ref_sum += w;
  t.add_row(
      {"reference (long double)", "3", list(r, show), num(static_cast<double>(ref_sum), 7), "-", "-", "-", "-", "-"});
  t.print(os);

  os << "\n";
  Table l({"log-sum-exp form", "value", "abs err", "rel err"});
  for (const LseForm& form : forms) {
    const double v = form.f(x);
    // Equal infinities agree exactly (inf − inf would print nan).
    const long double ae = v == lse_ref ? 0.0L : std::abs(static_cast<long double>(v) - lse_ref);
    l.add_row({form.name, num(v, 9), std::isnan(v) ? "nan" : sci(static_cast<double>(ae)),
               std::isnan(v)
                   ? "nan"
                   : sci(lse_ref != 0 ? static_cast<double>(ae / std::abs(lse_ref)) : static_cast<double>(ae))});
  }
  l.add_row({"reference (long double)", num(static_cast<double>(lse_ref), 12), "-", "-"});
  l.print(os);
}

/// Lines (each starting with `indent`) naming the values the format stored differently from how they were
/// given: 1e40 is inf in fp32, 70000 is inf in fp16, 1001 is 1000 in bf16. Empty when none changed.
std::string stored_note(const InputRow& in, const Format& f, std::size_t show, const std::string& indent) {
  if (in.generated) return {};
  std::vector<std::size_t> changed;
  for (std::size_t i = 0; i < in.x.size(); ++i)
    if (in.x[i] != in.given[i] && !(std::isnan(in.x[i]) && std::isnan(in.given[i]))) changed.push_back(i);
  if (changed.empty()) return {};
  std::string s = indent + "note: " + std::string(f.name) + " stores " + std::to_string(changed.size()) + " of your " +
                  std::to_string(in.x.size()) + " value(s) differently:";
  for (std::size_t k = 0; k < changed.size() && k < show; ++k) {
    const double g = in.given[changed[k]], v = in.x[changed[k]];
    s += "\n" + indent + "  value " + std::to_string(changed[k] + 1) + ": " + num(g, 12) + " → " + num(v, 9);
    if (std::isinf(v))
      s += " (beyond its largest finite value " + num(f.max(), 6) + ")";
    else if (v == 0)
      s += " (below half its smallest subnormal " + num(f.denorm_min(), 3) + ")";
    else
      s += " (the nearest " + std::string(f.name) + " value)";
  }
  if (changed.size() > show) s += "\n" + indent + "  … (" + std::to_string(changed.size() - show) + " more)";
  return s + "\n";
}

void explain(const InputRow& in, const Format& f, std::size_t show, std::ostream& os) {
  const Row& x = in.x;
  const Thresholds th = thresholds(f);
  const std::string F(f.name);
  const double u = f.unit_roundoff();
  const std::size_t n = x.size();
  double a = -kInf;
  for (double v : x) a = v > a ? v : a;
  auto rnd = [&](const Row& v) {
    Row out(v.size());
    for (std::size_t i = 0; i < v.size(); ++i) out[i] = f.round(v[i]);
    return out;
  };
  auto expf_ = [&](const Row& v) {
    Row out(v.size());
    for (std::size_t i = 0; i < v.size(); ++i) out[i] = f.round(std::exp(v[i]));
    return out;
  };
  std::vector<Variant> vs;
  std::vector<LseForm> forms;
  variants_for(f, vs, forms);
  auto run = [&](std::size_t which, const Row& row) {
    Row y;
    vs[which].softmax(row, y);
    return y;
  };

  os << "Why softmax must be computed stably: " << F << ", unit roundoff u = 2^-" << f.digits << " = " << num(u, 3)
     << "\n\n";
  os << "1. exp has a narrow range in " << F << " (largest finite value " << num(f.max(), 6) << "):\n";
  double past = f.round(std::ceil(th.overflow * 100) / 100);  // 88.73 for fp32
  os << "   exp(x) overflows to inf for x > " << num(th.overflow, 9)
     << (th.exact ? " (the largest " + F + " x with finite exp)" : " (real-valued boundary)") << ":\n";
  double below = f.round(th.overflow);  // the largest stored value with a finite exp
  if (below > th.overflow) below -= std::ldexp(1.0, std::ilogb(below) - f.digits + 1);
  if (past <= th.overflow) past = below + std::ldexp(1.0, std::ilogb(below) - f.digits + 1);  // bf16: 89
  os << "   exp(" << num(below, 9) << ") = " << num(f.round(std::exp(below)), 7) << ", exp(" << num(past, 6)
     << ") = " << num(f.round(std::exp(past)), 7) << "\n";
  os << "   exp(x) is subnormal (fewer significant bits) for x < " << num(th.normal, 9) << " and is 0 for x < "
     << num(th.zero, 9) << ".\n\n";

  const RowFacts rf = facts_of(x);
  const Row ex = expf_(x);
  long double s_naive = 0;
  for (double v : ex) s_naive += v;
  const double sum_naive = f.round(static_cast<double>(s_naive));
  const Row y_naive = run(0, x);
  os << "2. The naive formula exponentiates x itself. Your row (" << n << " values, stored in " << F << "):\n"
     << "   x      = " << list(x, show) << "\n"
     << stored_note(in, f, show, "   ") << "   exp(x) = " << list(ex, show) << "\n"
     << "   Σ exp(x) = " << num(sum_naive) << "  →  naive weights " << list(y_naive, show) << "\n";
  std::size_t over = 0, zero = 0;
  for (std::size_t i = 0; i < n; ++i) {
    over += std::isfinite(x[i]) && x[i] > th.overflow;
    zero += std::isfinite(x[i]) && ex[i] == 0;
  }
  const bool naive_ok = std::all_of(y_naive.begin(), y_naive.end(), [](double w) { return std::isfinite(w); }) &&
                        std::isfinite(sum_naive) && sum_naive > 0;
  // Each sentence states what the numbers above show; the first cause that applies explains the NaNs.
  if (rf.nan)
    os << "   " << count_of(rf.nan, n) << " x_i are nan: any sum that includes a NaN is NaN, so every weight is nan\n"
       << "   (NaN in, NaN out: no formula can recover a weight from it).\n";
  else if (rf.pos_inf)
    os << "   " << count_of(rf.pos_inf, n) << " x_i are inf: exp(inf) = inf makes Σ = inf, inf/inf = nan.\n";
  else if (over)
    os << "   " << count_of(over, n) << " x_i exceed " << num(th.overflow, 6) << ": exp overflows to inf, Σ = inf, "
       << "inf/inf = nan.\n";
  else if (rf.all_masked())
    os << "   Every x_i is −inf (every key masked): Σ = 0; the library gives weights 0 rather than 0/0 = nan.\n";
  else if (sum_naive == 0)
    os << "   Every exp(x_i) underflows to 0 (every x_i < " << num(th.zero, 6) << "): Σ = 0, and 0/0 = nan.\n";
  else if (std::isinf(sum_naive))
    os << "   No x_i exceeds " << num(th.overflow, 6) << ", but the sum of their exps does: Σ = inf, so the weights "
       << "collapse to 0.\n";
  if (naive_ok) {
    if (zero)
      os << "   " << count_of(zero, n) << " exp(x_i) underflow to 0 (x_i < " << num(th.zero, 6)
         << "): those weights are 0 though the true ones are not.\n";
    os << "   No x_i exceeds " << num(th.overflow, 6) << " and Σ is finite and positive, so the naive formula "
       << "survives this row.\n";
  }
  os << "\n";

  Row shifted(n);
  for (std::size_t i = 0; i < n; ++i) shifted[i] = x[i] - a;
  shifted = rnd(shifted);
  const Row es = expf_(shifted);
  long double s = 0;
  for (double v : es) s += v;
  const Row y_safe = run(1, x);
  os << "3. Subtract the max a = " << num(a, 9) << " first: every x_i − a ≤ 0, so no exp can overflow, and the\n";
  if (rf.nan || rf.pos_inf || rf.all_masked()) {
    // The shift's promise needs a finite max and no NaN; say what happens instead.
    os << "   largest term is exp(0) = 1 exactly — when a is a number and no x_i is nan.\n   Here ";
    if (rf.nan)
      os << "x holds nan: x_i − a is nan for it, so Σ is nan and every weight is nan.\n";
    else if (rf.pos_inf)
      os << "a = inf: x_i − a is inf − inf = nan for the inf entries, so Σ is nan and every weight is nan.\n";
    else
      os << "a = −inf: x − a is −inf − (−inf) = nan, so the library special-cases the fully masked row:\n"
            "   weights 0, log-sum-exp −inf.\n";
  } else {
    os << "   largest term is exp(0) = 1 exactly, so the sum lies in [1, n] = [1, " << n << "]: no overflow, no 0/0.\n";
  }
  os << "   x − a      = " << list(shifted, show) << "\n"
     << "   exp(x − a) = " << list(es, show) << ",  Σ = " << num(static_cast<double>(s), 7) << "\n"
     << "   safe weights = " << list(y_safe, show, 3, true) << "\n\n";

  if (std::isfinite(a) && !rf.nan) {  // steps 4 and 5 shift a row whose max is a number
    const double c = a - static_cast<double>(n);
    const Row moved = rnd([&] {
      Row m(n);
      for (std::size_t i = 0; i < n; ++i) m[i] = x[i] - c;
      return m;
    }());
    const Row y1 = run(1, x), y2 = run(1, moved);
    bool same = true;
    double diff = 0;
    for (std::size_t i = 0; i < n; ++i) {
      same &= y1[i] == y2[i] || (std::isnan(y1[i]) && std::isnan(y2[i]));
      if (std::isfinite(y1[i]) && std::isfinite(y2[i])) diff = std::max(diff, std::abs(y1[i] - y2[i]));
    }
    os << "4. Softmax only sees differences: softmax(x − c) = softmax(x) for any c. With c = " << num(c, 9) << ":\n"
       << "   x − c = " << list(moved, show) << "  →  " << list(y2, show, 3, true) << "\n"
       << "   " << (same ? "bit-identical to step 3" : "max difference from step 3: " + sci(diff) + " (x − c rounds)")
       << ".\n\n";

    const double drop = 2 * th.zero - a;  // moves the max to 2·(zero threshold): every exp(x_i) is 0
    Row low(n);
    for (std::size_t i = 0; i < n; ++i) low[i] = x[i] + drop;
    low = rnd(low);
    std::size_t tiny = 0;
    for (double v : shifted) tiny += v < th.normal;
    const Row low_naive = run(0, low);
    os << "5. Underflow is the mirror image. Shifted down to max " << num(2 * th.zero, 6) << ", every exp(x_i) is 0 in "
       << F << ",\n"
       << "   and the naive formula gives " << (all_nan(low_naive) ? "0/0 = " : "") << list(low_naive, show, 3, true)
       << "; the safe one still gives " << list(run(1, low), show, 3, true) << ".\n"
       << "   After the shift only tiny weights underflow (x_i − a < " << num(th.normal, 6)
       << "), an absolute error below " << num(f.min_normal(), 3) << ": in your row, " << tiny << " of " << n
       << ".\n\n";
  } else {
    os << "4–5. (Skipped: they shift the row by its max, and this row's max is " << num(rf.nan ? kNaN : a)
       << "; whatever the shift, the weights stay as in step 3.)\n\n";
  }

  os << "6. Online softmax (Milakov & Gimelshein 2018) finds the max and the sum in one pass: a running max m\n"
     << "   and a running sum l = Σ exp(x_j − m), rescaled by exp(m_old − m_new) when the max grows:\n";
  Table steps({"j", "x_j", "m", "l", "rescaled"});
  double m = -kInf, l = 0;
  for (std::size_t j = 0; j < n && j < show; ++j) {
    const double v = x[j];
    bool grew = false;
    if (v > m) {
      l = f.round(f.round(l * f.round(std::exp(f.round(m - v)))) + 1);
      m = v;
      grew = true;
    } else if (v != -kInf) {
      l = f.round(l + f.round(std::exp(f.round(v - m))));
    }
    steps.add_row({std::to_string(j + 1), num(v, 7), num(m, 7), num(l, 7), grew ? "yes" : ""});
  }
  std::ostringstream st;
  steps.print(st);
  std::istringstream lines(st.str());
  for (std::string line; std::getline(lines, line);) os << "   " << line << "\n";
  if (n > show) os << "   … (" << n - show << " more steps)\n";
  const Row y_on = run(2, x);
  double diff = 0;
  for (std::size_t i = 0; i < n; ++i)
    if (std::isfinite(y_on[i]) && std::isfinite(y_safe[i])) diff = std::max(diff, std::abs(y_on[i] - y_safe[i]));
  os << "   Then one more pass writes y_i = exp(x_i − m) / l: 2 passes over x instead of 3 (max, sum, write).\n"
     << "   online weights = " << list(y_on, show, 3, true) << ", max |online − safe| = " << sci(diff) << "\n"
     << "   Partial (m, l) states of two halves merge exactly as the log-sum-exp of the union:\n"
     << "   (m1, l1) ∘ (m2, l2) = (max, l1·exp(m1 − max) + l2·exp(m2 − max)): that is how split-KV attention\n"
     << "   and FlashAttention combine blocks.\n\n";

  os << "7. log-sum-exp: the basic log Σ exp(x) overflows with the naive softmax; a + log Σ exp(x − a) does not,\n"
     << "   and Blanchard, Higham & Higham (2021) recommend a + log1p(Σ_{i≠k} exp(x_i − a)), k = argmax, which\n"
     << "   keeps the small sum's accuracy. For x = [0, −30] the exact value is log(1 + e^-30) = 9.3576e-14:\n";
  const Row demo = {0.0, -30.0};
  for (std::size_t i = 0; i < forms.size() && i < 3; ++i)
    os << "   " << forms[i].name << " = " << num(forms[i].f(demo), 6) << "\n";
  os << "   (1 + 9.36e-14 rounds to 1 in " << F << (f.digits < 47 ? ", so log gives 0" : "")
     << "; log1p never forms 1 + s.)\n\n";
  os << "The table: every variant on your row, against a long-double reference (u = 2^-64).\n\n";
}

void run_softmax(const SoftmaxOptions& o) {
  const Format& f = format_named(o.precision);
  const InputRow in = input_row(o, f);
  const Row& x = in.x;
  if (o.random > 100000) std::cerr << "attnlab softmax: " << x.size() << " values, computing…\n";
  std::ostream& os = std::cout;
  if (o.explain)
    explain(in, f, o.show, os);
  else {
    double a = -kInf, lo = kInf;
    for (double v : x) {
      a = v > a ? v : a;
      lo = v < lo ? v : lo;
    }
    os << "softmax of " << x.size() << " values in " << f.name
       << (f.name == "fp16" || f.name == "bf16" ? " (simulated)" : "") << ": x = " << list(x, o.show) << "\n"
       << stored_note(in, f, o.show, "") << "max a = " << num(a, 9)
       << ", min x_i − a = " << (a == -kInf ? "n/a (every value is −inf)" : num(lo - a, 6)) << "\n\n";
  }
  print_tables(x, f, o.show, os);
  os << "\nBounds: relative, per weight, from engine/include/attn/softmax.hpp (u = " << sci(f.unit_roundoff())
     << "); 'within' also allows an absolute " << sci(f.min_normal()) << " for weights below the normal range.\n";
}

}  // namespace

void add_softmax_command(CLI::App& app) {
  auto o = std::make_shared<SoftmaxOptions>();
  CLI::App* cmd = app.add_subcommand(
      "softmax", "Every softmax / log-sum-exp variant on one row: overflow, underflow, error vs bound");
  cmd->footer(
      "Examples:\n"
      "  attnlab softmax 1000 1001 1002             naive overflows to nan, the others agree\n"
      "  attnlab softmax --explain 1000 1001 1002   the lesson, step by step, with these numbers\n"
      "  attnlab softmax --precision fp16 8 10 12   exp overflows above 11.09 in fp16\n"
      "  attnlab softmax --random 4096 --scale 30   a long random row\n"
      "  attnlab softmax -- -inf -1 -2              values that start with '-' go after --\n"
      "fp32 and fp64 run the library (engine/include/attn/softmax.hpp); fp16 and bf16 simulate it by\n"
      "rounding every result to the format.");
  cmd->add_option("values", o->values, "The row (numbers; inf, -inf and nan allowed)");
  cmd->add_option("--file", o->file, "Read the row from a .npy file (float32, float16 or float64, one row)");
  cmd->add_option("--random", o->random, "Use N random values from a normal distribution instead")
      ->each([o](const std::string&) { o->random_given = true; });
  cmd->add_option("--scale", o->scale, "Standard deviation of the random values")->capture_default_str();
  cmd->add_option("--offset", o->offset, "Mean of the random values")->capture_default_str();
  cmd->add_option("--seed", o->seed, "Seed of the random values")->capture_default_str();
  cmd->add_option("--precision", o->precision, "Storage precision: fp16, bf16, fp32 or fp64")->capture_default_str();
  cmd->add_flag("--explain", o->explain, "Walk through why, with the row's own numbers");
  cmd->add_option("--show", o->show, "How many weights to print per row")->capture_default_str();
  cmd->callback([o] { run_softmax(*o); });
}

}  // namespace attnlab
