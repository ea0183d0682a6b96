import type { FastifyInstance } from 'fastify'
import { displayName } from '../../services/accounts/account-store'
import { formatDate } from '../../format'
import { formSchema, keptValues, showFormErrors, type FormBody } from '../shared/forms'
import { ACCOUNT_FIELDS } from '../shared/account-fields'
import { idParams, parseId } from '../shared/params'
import { Type } from '@sinclair/typebox'
import type { InviteInput, ManyInvited } from '../../services/onboarding/invitations'
import { actorOf } from '../../http/request-account'

/** At most this many lines in one paste. */
const PASTE_MAX_LINES = 1000

// One invitation (three fields), or many pasted in `emails` (one a line): the page has both forms.
const inviteForm = formSchema({}, {
  firstName: Type.Optional(Type.String({ maxLength: ACCOUNT_FIELDS.firstName })),
  lastName: Type.Optional(Type.String({ maxLength: ACCOUNT_FIELDS.lastName })),
  email: Type.Optional(Type.String({ maxLength: ACCOUNT_FIELDS.email })),
  emails: Type.Optional(Type.String({ maxLength: PASTE_MAX_LINES * 400 }))
})

const capitalized = (word: string): string => word.charAt(0).toUpperCase() + word.slice(1)

/**
 * One pasted line: "Name <email>" or a bare address. A name's first word is the first name and the
 * rest the last; a bare address's local part gives the name ("jane.doe" is Jane Doe; "jdoe" is
 * Jdoe -): the developer can correct it in their profile.
 */
export function pastedLine (line: string): InviteInput {
  const named = /^(.*?)\s*<([^<>]*)>\s*$/.exec(line)
  const email = (named?.[2] ?? line).trim()
  const name = named?.[1]?.trim().replace(/^"(.*)"$/, '$1') ?? ''
  const words = name !== '' ? name.split(/\s+/) : (email.split('@')[0] ?? '').split(/[._-]+/).filter((w) => w !== '').map(capitalized)
  return { email, firstName: words[0] ?? '', lastName: words.length > 1 ? words.slice(1).join(' ') : '-' }
}

/** What happened to each pasted line, in words. */
function lineResult (result: ManyInvited): { done: boolean, text: string } {
  if (result.outcome === null) return { done: false, text: Object.values(result.errors).join(' ') }
  if (result.outcome === 'exists') return { done: false, text: `An account with this address already exists (${result.account?.state ?? 'active'}): not invited.` }
  return { done: true, text: result.outcome === 'resent' ? 'It already had a pending invitation: a new link sent; the old one no longer works.' : 'Invited.' }
}

export default async function invitationAdminRoutes (app: FastifyInstance): Promise<void> {
  const { invitations, mailSender } = app.services

  app.get('/', async (_request, reply) => {
    const pending = await invitations.listPendingInvitations()
    return await reply.page('publisher/invitations/list', { title: 'Invitations', pending, displayName, smtp: mailSender.enabled })
  })

  app.get('/new', async (_request, reply) => {
    return await reply.page('publisher/invitations/new', { title: 'Invite user' })
  })

  app.post<{ Body: FormBody<typeof inviteForm> }>('/', { schema: inviteForm }, async (request, reply) => {
    const { emails, firstName = '', lastName = '', email = '' } = request.body
    if (emails !== undefined) {
      const lines = emails.split(/\r?\n/).map((line) => line.trim()).filter((line) => line !== '')
      const problem = lines.length === 0 ? 'Enter at least one email address, one a line.' : lines.length > PASTE_MAX_LINES ? `Paste at most ${PASTE_MAX_LINES} lines at once.` : null
      if (problem !== null) return await reply.page('publisher/invitations/new', { title: 'Invite user', values: { emails }, errors: { emails: problem } }, 400)
      const results = await invitations.inviteMany(lines.map(pastedLine), actorOf(request), 'resend')
      const report = results.map((result, i) => ({ line: lines[i], ...lineResult(result) }))
      const done = report.filter((r) => r.done).length
      return await reply.page('publisher/invitations/new', { title: `Invite user: ${done} of ${report.length} invited`, values: {}, report, done }, done > 0 ? 200 : 409)
    }
    try {
      const { account, resent, expiresAt } = await invitations.inviteDeveloper({ firstName, lastName, email }, actorOf(request))
      request.session.flash = resent
        ? `${account.email} already had a pending invitation: a new link was sent and the old one no longer works.`
        : `Invitation sent to ${displayName(account)} (${account.email}). The link works until ${formatDate(expiresAt)}.`
      return await reply.code(303).redirect('/admin/invitations')
    } catch (err) {
      return await showFormErrors(reply, err, 'publisher/invitations/new', { title: 'Invite user', values: keptValues(request.body) })
    }
  })

  app.post<{ Params: { id: string } }>('/:id/resend', { schema: { ...idParams, ...formSchema({}) } }, async (request, reply) => {
    const { account, expiresAt } = await invitations.resendInvitation(parseId(request.params.id), actorOf(request))
    request.session.flash = `A new invitation was sent to ${account.email}; it works until ${formatDate(expiresAt)}. The old link no longer works.`
    return await reply.code(303).redirect('/admin/invitations')
  })

  app.get<{ Params: { id: string } }>('/:id/revoke', { schema: idParams }, async (request, reply) => {
    const account = await invitations.getPendingInvitation(parseId(request.params.id))
    return await reply.page('publisher/invitations/revoke', { title: `Revoke the invitation of ${account.email}?`, invited: account, displayName })
  })

  app.post<{ Params: { id: string } }>('/:id/revoke', { schema: { ...idParams, ...formSchema({}) } }, async (request, reply) => {
    const account = await invitations.revokeInvitation(parseId(request.params.id), actorOf(request))
    request.session.flash = `The invitation of ${account.email} was revoked; its link no longer works.`
    return await reply.code(303).redirect('/admin/invitations')
  })
}
