# Helpers that turn src/<stage>/ into an object library and link stages into
# executables together with everything they depend on.
set(MZ_ALL_STAGES "" CACHE INTERNAL "")

# Usage requirements every modelzoo object or consumer needs. Torch only where
# asked for (mz_apply_usage(t scope TORCH)): loading libtorch costs a
# process about 2 s at start-up, which stages without tensors need not pay.
function(mz_apply_usage target scope)
  cmake_parse_arguments(ARG "TORCH" "" "" ${ARGN})
  target_include_directories(${target} ${scope}
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
    $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  target_link_libraries(${target} ${scope} nlohmann_json::nlohmann_json)
  if(ARG_TORCH)
    target_link_libraries(${target} ${scope} ${TORCH_LIBRARIES})
  endif()
  if(NOT "${scope}" STREQUAL "INTERFACE")
    target_link_libraries(${target} PRIVATE CURL::libcurl OpenSSL::Crypto ZLIB::ZLIB)
    target_include_directories(${target} PRIVATE ${PROJECT_SOURCE_DIR}/src)
    target_compile_options(${target} PRIVATE -Wall -Wextra -Wno-unused-parameter)
  endif()
endfunction()

# mz_stage(NAME [TORCH] [DEPS stage...] [LIBS lib...]): object library mz_NAME
# from src/NAME/*.cpp; TORCH when the stage uses LibTorch; LIBS are external
# libraries its objects need (linked into whatever links the stage).
function(mz_stage name)
  cmake_parse_arguments(ARG "TORCH" "" "DEPS;LIBS" ${ARGN})
  file(GLOB_RECURSE srcs CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/src/${name}/*.cpp)
  if(NOT srcs)
    # A stage without sources yet still needs an object to exist.
    set(srcs ${CMAKE_BINARY_DIR}/generated/empty_${name}.cpp)
    file(WRITE ${srcs} "// stage ${name} has no sources\n")
  endif()
  add_library(mz_${name} OBJECT ${srcs})
  if(ARG_TORCH)
    mz_apply_usage(mz_${name} PUBLIC TORCH)
  else()
    mz_apply_usage(mz_${name} PUBLIC)
  endif()
  if(ARG_LIBS)
    target_link_libraries(mz_${name} PRIVATE ${ARG_LIBS})
  endif()
  set_property(TARGET mz_${name} PROPERTY MZ_DEPS ${ARG_DEPS})
  set_property(TARGET mz_${name} PROPERTY MZ_LIBS ${ARG_LIBS})
  set_property(TARGET mz_${name} PROPERTY MZ_TORCH ${ARG_TORCH})
  set(MZ_ALL_STAGES ${MZ_ALL_STAGES} ${name} CACHE INTERNAL "")
endfunction()

# mz_link_stages(TARGET stage...): link the objects of the stages and of all
# the stages they depend on (object files do not propagate by themselves).
function(mz_link_stages target)
  set(todo ${ARGN})
  set(done "")
  set(torch FALSE)
  while(todo)
    list(POP_FRONT todo s)
    if(s IN_LIST done)
      continue()
    endif()
    list(APPEND done ${s})
    get_property(uses_torch TARGET mz_${s} PROPERTY MZ_TORCH)
    if(uses_torch)
      set(torch TRUE)
    endif()
    get_property(deps TARGET mz_${s} PROPERTY MZ_DEPS)
    list(APPEND todo ${deps})
  endwhile()
  foreach(s IN LISTS done)
    target_sources(${target} PRIVATE $<TARGET_OBJECTS:mz_${s}>)
    get_property(libs TARGET mz_${s} PROPERTY MZ_LIBS)
    if(libs)
      target_link_libraries(${target} PRIVATE ${libs})
    endif()
  endforeach()
  if(torch)
    mz_apply_usage(${target} PRIVATE TORCH)
  else()
    mz_apply_usage(${target} PRIVATE)
  endif()
endfunction()
