# Helpers that turn src/<stage>/ into an object library and link stages into
# executables together with everything they depend on.
set(MZ_ALL_STAGES "" CACHE INTERNAL "")

# Usage requirements every modelzoo object or consumer needs.
function(mz_apply_usage target scope)
  target_include_directories(${target} ${scope}
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
    $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  target_link_libraries(${target} ${scope} ${TORCH_LIBRARIES} nlohmann_json::nlohmann_json)
  if(NOT "${scope}" STREQUAL "INTERFACE")
    target_link_libraries(${target} PRIVATE CURL::libcurl OpenSSL::Crypto ZLIB::ZLIB)
    target_include_directories(${target} PRIVATE ${PROJECT_SOURCE_DIR}/src)
    target_compile_options(${target} PRIVATE -Wall -Wextra -Wno-unused-parameter)
  endif()
endfunction()

# mz_stage(NAME [DEPS stage...]): object library mz_NAME from src/NAME/*.cpp.
function(mz_stage name)
  cmake_parse_arguments(ARG "" "" "DEPS" ${ARGN})
  file(GLOB_RECURSE srcs CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/src/${name}/*.cpp)
  if(NOT srcs)
    # A stage without sources yet still needs an object to exist.
    set(srcs ${CMAKE_BINARY_DIR}/generated/empty_${name}.cpp)
    file(WRITE ${srcs} "// stage ${name} has no sources\n")
  endif()
  add_library(mz_${name} OBJECT ${srcs})
  mz_apply_usage(mz_${name} PUBLIC)
  set_property(TARGET mz_${name} PROPERTY MZ_DEPS ${ARG_DEPS})
  set(MZ_ALL_STAGES ${MZ_ALL_STAGES} ${name} CACHE INTERNAL "")
endfunction()

# mz_link_stages(TARGET stage...): link the objects of the stages and of all
# the stages they depend on (object files do not propagate by themselves).
function(mz_link_stages target)
  set(todo ${ARGN})
  set(done "")
  while(todo)
    list(POP_FRONT todo s)
    if(s IN_LIST done)
      continue()
    endif()
    list(APPEND done ${s})
    get_property(deps TARGET mz_${s} PROPERTY MZ_DEPS)
    list(APPEND todo ${deps})
  endwhile()
  foreach(s IN LISTS done)
    target_sources(${target} PRIVATE $<TARGET_OBJECTS:mz_${s}>)
  endforeach()
  mz_apply_usage(${target} PRIVATE)
endfunction()
