/**
 * Finds sanboot URIs with an empty LUN (`iscsi:host::::iqn`) in text. iPXE reads an empty LUN as
 * LUN 0, which tgtd reserves for its controller: the machine "boots" a device with no disk.
 * Seen on real iPXE and tgtd (PLATFORM-NOTES); a warning, since other targets may put a disk there.
 */
import { positionOf, type TextPosition } from '../config/json-locate.js'

// iscsi:<server>:<protocol>:<port>:<LUN>:<target> — the fourth field is empty.
const EMPTY_LUN = /iscsi:[^:\s'"`]*:[^:\s'"`]*:[^:\s'"`]*::[^\s'"`]*/g

export interface EmptyLunHit extends TextPosition {
  readonly uri: string
}

export function findEmptyLuns(text: string): EmptyLunHit[] {
  return [...text.matchAll(EMPTY_LUN)].map((m) => ({ uri: m[0], ...positionOf(text, m.index) }))
}
