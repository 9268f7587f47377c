// corral: a coroutine Redis/MySQL protocol proxy. Command line and start-up only; see daemon.h.
#include <cstdio>
#include <string>
#include <string_view>

#include "config/config.h"
#include "proxy/daemon.h"
#include "runtime/log.h"

namespace {

constexpr std::string_view kUsage =
    "usage: corral [--config FILE] [--check-config] [--version] [--help]\n"
    "\n"
    "  --config FILE    configuration file (default: config/corral.toml)\n"
    "  --check-config   validate the configuration and exit (0: valid, 2: invalid)\n"
    "  --version        print the version and exit\n"
    "  --help           print this help and exit\n"
    "\n"
    "exit status: 0 clean shutdown, 1 runtime failure (e.g. cannot bind), 2 usage or config error\n";


}  // namespace

int main(int argc, char** argv) {
  std::string config_path = "config/corral.toml";
  bool check_only = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage.data(), stdout);
      return corral::proxy::kExitOk;
    }
    if (arg == "--version") {
      std::printf("corral %s\n", CORRAL_VERSION);
      return corral::proxy::kExitOk;
    }
    if (arg == "--check-config") {
      check_only = true;
    } else if (arg == "--config" && i + 1 < argc) {
      config_path = argv[++i];
    } else if (arg.starts_with("--config=")) {
      config_path = std::string(arg.substr(9));
    } else {
      std::fprintf(stderr, "corral: unknown argument '%s'\n\n%s", argv[i], kUsage.data());
      return corral::proxy::kExitConfigError;
    }
  }

  auto loaded = corral::config::load_config(config_path);
  if (auto* error = std::get_if<corral::config::ConfigError>(&loaded)) {
    std::fprintf(stderr, "%s\n", error->to_string().c_str());
    return corral::proxy::kExitConfigError;
  }
  auto& config = std::get<corral::config::Config>(loaded);
  if (check_only) {
    std::printf("%s: configuration is valid\n", config_path.c_str());
    return corral::proxy::kExitOk;
  }
  corral::rt::log::set_level(corral::proxy::log_level_of(config.server.log_level));
  corral::rt::log::set_format(corral::proxy::log_format_of(config.server.log_format));
  try {
    corral::proxy::Daemon daemon(std::move(config));
    return daemon.run();
  } catch (const std::exception& e) {
    corral::rt::log::error("fatal: {}", e.what());
    return corral::proxy::kExitRuntimeError;
  }
}
