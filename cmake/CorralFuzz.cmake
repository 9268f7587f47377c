# corral_add_fuzz_target(NAME SOURCE CORPUS_DIR LIBS...)
# With CORRAL_FUZZ=ON (clang) the target is a libFuzzer binary. Otherwise it links a replay driver
# that feeds every file of the committed corpus (and the crash repros) through the same entry point,
# registered as a ctest with label "fuzz" so every build keeps the corpus passing.
function(corral_add_fuzz_target name source corpus_dir)
  add_executable(${name} ${source})
  target_link_libraries(${name} PRIVATE ${ARGN})
  if(CORRAL_FUZZ)
    target_compile_options(${name} PRIVATE -fsanitize=fuzzer)
    target_link_options(${name} PRIVATE -fsanitize=fuzzer)
  else()
    target_sources(${name} PRIVATE ${PROJECT_SOURCE_DIR}/tests/fuzz/replay_main.cc)
  endif()
  if(CORRAL_FUZZ)
    # -runs=0: execute the corpus once and stop instead of fuzzing forever.
    add_test(NAME ${name}_corpus COMMAND ${name} -runs=0 ${corpus_dir})
  else()
    add_test(NAME ${name}_corpus COMMAND ${name} ${corpus_dir})
  endif()
  set_tests_properties(${name}_corpus PROPERTIES LABELS fuzz)
endfunction()
