// Moved to core/text (config errors use it too); kept so that the CLI's imports stay as they are.
export { closest, didYouMean } from '../text/did-you-mean.js'
