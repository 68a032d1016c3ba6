// libmaskrcnn_glibcxx_shim.so — defines std::ios_base_library_init() for systems whose libstdc++ predates
// GCC 13 (GLIBCXX_3.4.30 on Debian 12). TorchSharp 0.107's libLibTorchSharp.so references this one symbol
// at version GLIBCXX_3.4.32; GCC 13 emits a call to it from every translation unit that includes
// <iostream>, and all it does is make sure the standard streams are constructed. Older libstdc++ does that
// from its own static constructor, so constructing one std::ios_base::Init here is an exact equivalent.
//
// Loaded with RTLD_NOW | RTLD_GLOBAL by MaskRcnn.Runtime.NativeRuntime before TorchSharp, and only on
// systems whose libstdc++ lacks GLIBCXX_3.4.32. Rebuild with environment/build-shim.sh.
#include <ios>

namespace std {
__attribute__((visibility("default"))) void ios_base_library_init()
{
    static ios_base::Init init;
}
}
