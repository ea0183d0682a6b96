import { EMAIL_MAX_LENGTH, NAME_MAX_LENGTH } from '../../services/accounts/account-rules'
import { PASSWORD_MAX_LENGTH } from '../../services/accounts/passwords'

// Schema limits sit well above the rules' limits, so a long value gets a message beside its field
// from the service; only absurd input is refused outright by the schema.
export const ACCOUNT_FIELDS = {
  firstName: NAME_MAX_LENGTH * 10,
  lastName: NAME_MAX_LENGTH * 10,
  email: EMAIL_MAX_LENGTH * 4,
  password: PASSWORD_MAX_LENGTH * 4
}
