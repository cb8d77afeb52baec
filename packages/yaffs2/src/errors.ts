/**
 * The one error class of the YAFFS2 layer. `code` is a closed union: errno-like codes for
 * file-system operations (as POSIX names them) and image codes for what was found on flash.
 */
export const YAFFS2_ERROR_CODES = [
  // errno-like: what a file-system call refuses.
  'ENOENT', // no such file or directory
  'EEXIST', // the name is taken
  'ENOTDIR', // a path component (or rmdir's target) is not a directory
  'EISDIR', // a file operation on a directory
  'ENOTEMPTY', // rmdir / rename over a non-empty directory
  'ENOSPC', // no free chunks beyond the reserve
  'EINVAL', // bad argument (negative offset, rename into own subtree, bad path …)
  'ENAMETOOLONG', // a name over 255 bytes or a symlink target over 159 bytes (UTF-8)
  'EBADF', // a closed or unknown file handle, or a write on a read-only handle
  'EROFS', // a write on a file system mounted read-only
  'EIO', // data lost: an uncorrectable ECC error or a device failure past every retry
  'ELOOP', // too many symbolic links while resolving a path
  'EPERM', // operation not permitted (unlinking a directory, linking a directory, the root)
  'EMLINK', // too many links
  // Image codes: what the flash holds is not a usable YAFFS2 file system.
  'CORRUPT_IMAGE', // structure that cannot be a YAFFS2 image (bad layout, loops, bad headers)
  'UNKNOWN_LAYOUT', // neither spare layout fits the first written chunks
  'UNMOUNTED', // the file system was unmounted
] as const;
export type Yaffs2ErrorCode = (typeof YAFFS2_ERROR_CODES)[number];

export class Yaffs2Error extends Error {
  readonly code: Yaffs2ErrorCode;
  constructor(code: Yaffs2ErrorCode, message: string) {
    super(`${code}: ${message}`);
    this.name = 'Yaffs2Error';
    this.code = code;
  }
}

export function isYaffs2Error(e: unknown, code?: Yaffs2ErrorCode): e is Yaffs2Error {
  return e instanceof Yaffs2Error && (code === undefined || e.code === code);
}
