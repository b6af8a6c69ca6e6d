# -*- Python -*-
import os

import lit.formats
from lit.llvm import llvm_config
from lit.llvm.subst import ToolSubst

config.name = "GECKO"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".test"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.gecko_obj_root, "test")
config.excludes = ["CMakeLists.txt", "lit.cfg.py", "lit.site.cfg.py", "data", "unit", "Inputs", "CMakeLists.txt"]

config.substitutions.append(("%PATH%", config.environment["PATH"]))
config.substitutions.append(("%gecko_src_root", config.gecko_src_root))
config.substitutions.append(("%golden_dir", os.path.join(config.gecko_src_root, "test", "data", "golden")))

llvm_config.with_system_environment(["HOME", "INCLUDE", "LIB", "TMP", "TEMP"])
llvm_config.use_default_substitutions()
# RUN lines may start with `not` or FileCheck anywhere (lit substitutes tools
# only in some positions): put LLVM's tools on PATH for every test.
config.environment["PATH"] = os.pathsep.join(
    [config.llvm_tools_dir, config.environment.get("PATH", "")])

tool_dirs = [config.gecko_tools_dir, config.llvm_tools_dir]
tools = ["gecko-opt", "gecko-conform"]
llvm_config.add_tool_substitutions(tools, tool_dirs)
