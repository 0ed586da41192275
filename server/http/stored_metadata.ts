import { decodeMetadata, type Metadata } from "../../lib/metadata.ts";
import type { UploadInfo } from "../store/types.ts";

/** An upload's metadata, decoded (validated at creation, so this never fails; {} if it did). */
export function storedMetadata(info: UploadInfo): Metadata {
  try {
    return decodeMetadata(info.metadata);
  } catch {
    return {};
  }
}
