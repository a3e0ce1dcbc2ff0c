"""What goes in and out of files: LDR/HDR/EXR/TIFF and RAW reading and writing, EXIF, the outputs'
metadata, atomic writes, tone mapping for display files and the tonemap command's conversion."""
