// The translation unit that compiles the precompiled headers of cmake/Pch.cmake; nothing else.
