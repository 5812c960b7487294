#pragma once
// Include this instead of <doctest/doctest.h> in a test that also includes LibTorch. LibTorch pulls in
// glog, whose CHECK macros (which abort the process) would silently replace doctest's CHECK if glog came
// second. Including glog first and dropping its macros makes CHECK always mean doctest's CHECK.
#include <c10/util/Logging.h>
#undef CHECK
#undef CHECK_EQ
#undef CHECK_NE
#undef CHECK_LT
#undef CHECK_LE
#undef CHECK_GT
#undef CHECK_GE
#include <doctest/doctest.h>
