#include "profile.hpp"

#include "peak.hpp"

#include <cstdlib>
#include <stdexcept>
#include <string>

namespace attnbench {

namespace {

Profile initial_profile() {
  const char* env = std::getenv("ATTN_BENCH_PROFILE");
  if (!env || !*env) return Profile::quick;
  try {
    return parse_profile(env);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(std::string("ATTN_BENCH_PROFILE: ") + e.what());
  }
}

Profile& current() {
  static Profile p = initial_profile();
  return p;
}

}  // namespace

Profile profile() {
  return current();
}
void set_profile(Profile p) {
  current() = p;
}

std::string_view profile_name(Profile p) {
  switch (p) {
    case Profile::smoke:
      return "smoke";
    case Profile::quick:
      return "quick";
    case Profile::full:
      return "full";
  }
  return "?";
}

Profile parse_profile(std::string_view text) {
  for (Profile p : {Profile::smoke, Profile::quick, Profile::full})
    if (text == profile_name(p)) return p;
  throw std::invalid_argument("profile '" + std::string(text) + "' is not one of smoke, quick, full");
}

std::vector<int> thread_counts() {
  const int n = max_threads();
  if (profile() != Profile::full) return n > 1 ? std::vector<int>{1, n} : std::vector<int>{1};
  std::vector<int> t;
  for (int k = 1; k < n; k *= 2) t.push_back(k);
  t.push_back(n);
  return t;
}

benchmark::internal::Benchmark* apply_profile(benchmark::internal::Benchmark* b) {
  if (profile() == Profile::smoke) b->Iterations(1)->Repetitions(1);
  return b;
}

}  // namespace attnbench
