#pragma once
// Symbol visibility for the SDK. Plugins are built with hidden visibility; everything the host and a
// plugin must agree on (interfaces, exceptions, the registrar) is exported so that RTTI and exceptions
// work across shared-library boundaries on every toolchain, not just by libstdc++'s name matching.
#define S4T_API __attribute__((visibility("default")))
