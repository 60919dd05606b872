export {
  type ProfileInstrumentationOptions,
  profileInstrumentation,
  withProfile,
} from './profile/instrumentation.js'
