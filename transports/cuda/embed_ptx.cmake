# cmake -DIN=copy_kernels.ptx -DOUT=copy_kernels_ptx.cpp -P embed_ptx.cmake: the PTX as a C++
# string (fb_copy_kernels_ptx), which cuda_copy.cpp loads with cudaLibraryLoadData.
file(READ ${IN} ptx)
file(WRITE ${OUT}
     "// Generated from copy_kernels.cu by transports/cuda/embed_ptx.cmake; do not edit.\n"
     "extern \"C\" const char fb_copy_kernels_ptx[];\n"
     "extern \"C\" const char fb_copy_kernels_ptx[] = R\"fbptx(${ptx})fbptx\";\n")
