// The common main() of the attnlab benchmark binaries.
//
// Suites register their benchmarks from a function added with add_suite(), run
// by suite_main() after the profile is known. suite_main() adds the context,
// runs, and exits 1 when a benchmark reported an error other than a kernel
// refusing a shape (SkipWithError messages starting "refused:"), so the smoke
// runs in CI fail on anything broken.
#pragma once

namespace attnbench {

using Registrar = void (*)();

/// Adds a registration function; use at namespace scope: `const bool r = add_suite(fn);`.
bool add_suite(Registrar fn);

int suite_main(int argc, char** argv);

/// Prefix of SkipWithError messages that mean "not applicable", not "broken".
inline constexpr const char* kRefused = "refused: ";

}  // namespace attnbench

#define ATTNBENCH_MAIN()                        \
  int main(int argc, char** argv) {             \
    return ::attnbench::suite_main(argc, argv); \
  }
