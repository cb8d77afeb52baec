export * from './errors.ts';
export * from './tags.ts';
export * from './tag-ecc.ts';
export * from './header.ts';
export * from './fs.ts';
export * from './image.ts';
export * from './image-edit.ts';
export * from './detect.ts';
