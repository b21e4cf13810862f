import type { ActionClass } from './actions.js';

/**
 * Other languages than English: an injection translated into French or Chinese says the same thing,
 * and a user may ask in their own language. This holds, for French, Spanish, German, Italian,
 * Portuguese, Russian, Chinese and Japanese: the cues that make a sentence an order (cf. the English
 * ones in instructions.ts), the verbs that name an action, and a guess of a text's language.
 * Verbs are listed in the forms an order takes (infinitive, imperative, third person), never forms
 * that are also common English words.
 */
export type Language = 'en' | 'fr' | 'es' | 'de' | 'it' | 'pt' | 'ru' | 'zh' | 'ja';

/** Cue kinds, as in instructions.ts. */
export type ForeignCue = 'override' | 'concealment' | 'address' | 'request' | 'obligation';

// Words are delimited by look-arounds for any letter or digit (`\b` knows only ASCII letters);
// Chinese and Japanese are written without spaces, so their cues are found inside the text.

/** Per language, per cue kind: a pattern (each linear; no two quantifiers trade characters). */
const CUES: Record<Exclude<Language, 'en'>, Partial<Record<ForeignCue, RegExp>>> = {
  fr: {
    override:
      /(?<![\p{L}\p{N}])(?:(?:ignore[zr]?|oublie[zr]?)\s+(?:toutes\s+)?(?:les\s+)?(?:instructions|consignes|règles)(?:\s+(?:précédentes|antérieures|ci-dessus))?|nouvelles\s+(?:instructions|consignes))(?![\p{L}\p{N}])/iu,
    concealment:
      /(?<![\p{L}\p{N}])(?:ne\s+(?:le\s+|la\s+|les\s+|rien\s+)?(?:dites|dis|mentionnez|mentionne|signalez|révélez)\s+(?:rien\s+|pas\s+)?(?:à\s+)?l['’]utilisateur|sans\s+(?:le\s+dire\s+à|informer|prévenir|avertir)\s+l['’]utilisateur)(?![\p{L}\p{N}])/iu,
    address:
      /(?<![\p{L}\p{N}])(?:assistant\s+(?:ia|d['’]ia)|agent\s+(?:ia|d['’]ia)|(?:note\s+)?à\s+l['’]ia)(?![\p{L}\p{N}])/iu,
    request: /(?<![\p{L}\p{N}])(?:veuillez|s['’]il\s+vous\s+plaît|merci\s+de)(?![\p{L}\p{N}])/iu,
    obligation:
      /(?<![\p{L}\p{N}])(?:vous\s+devez|tu\s+dois|il\s+faut|il\s+est\s+(?:impératif|obligatoire|nécessaire)|n['’]oubliez\s+pas|assurez-vous)(?![\p{L}\p{N}])/iu,
  },
  es: {
    override:
      /(?<![\p{L}\p{N}])(?:(?:ignora|ignore|olvida|olvide)\s+(?:todas\s+)?las\s+(?:instrucciones|reglas)(?:\s+(?:anteriores|previas))?|nuevas\s+instrucciones)(?![\p{L}\p{N}])/iu,
    concealment:
      /(?<![\p{L}\p{N}])(?:no\s+(?:le\s+)?(?:digas|diga|informes|informe|menciones|mencione|avises|avise)\s+(?:nada\s+)?al\s+usuario|sin\s+(?:decirle|informar|avisar)(?:\s+nada)?\s+al\s+usuario)(?![\p{L}\p{N}])/iu,
    address:
      /(?<![\p{L}\p{N}])(?:asistente\s+(?:de\s+)?ia|agente\s+de\s+ia|para\s+la\s+ia)(?![\p{L}\p{N}])/iu,
    request: /(?<![\p{L}\p{N}])por\s+favor(?![\p{L}\p{N}])/iu,
    obligation:
      /(?<![\p{L}\p{N}])(?:debes|usted\s+debe|tienes\s+que|tiene\s+que|es\s+(?:obligatorio|necesario|imprescindible)|asegúrate|no\s+olvides)(?![\p{L}\p{N}])/iu,
  },
  de: {
    override:
      /(?<![\p{L}\p{N}])(?:(?:ignoriere|ignorieren\s+sie|vergiss|vergessen\s+sie)\s+(?:alle\s+)?(?:vorherigen\s+|bisherigen\s+|obigen\s+)?(?:anweisungen|regeln)|neue\s+anweisungen)(?![\p{L}\p{N}])/iu,
    concealment:
      /(?<![\p{L}\p{N}])(?:(?:sag|sage|sagen\s+sie|erwähne|erwähnen\s+sie)\s+(?:es\s+|das\s+)?(?:dem|den)\s+(?:benutzer|nutzer|anwender)\s+nicht|ohne\s+(?:den|dem)\s+(?:benutzer|nutzer|anwender)\s+zu\s+(?:informieren|benachrichtigen))(?![\p{L}\p{N}])/iu,
    address:
      /(?<![\p{L}\p{N}])(?:ki-assistent(?:in)?|ki\s+assistent(?:in)?|an\s+die\s+ki|hinweis\s+für\s+die\s+ki)(?![\p{L}\p{N}])/iu,
    request: /(?<![\p{L}\p{N}])bitte(?![\p{L}\p{N}])/iu,
    obligation:
      /(?<![\p{L}\p{N}])(?:du\s+musst|sie\s+müssen|müssen\s+sie|ihr\s+müsst|du\s+sollst|es\s+ist\s+(?:zwingend\s+)?(?:erforderlich|notwendig)|stelle\s+sicher|vergiss\s+nicht)(?![\p{L}\p{N}])/iu,
  },
  it: {
    override:
      /(?<![\p{L}\p{N}])(?:(?:ignora|dimentica)\s+(?:tutte\s+)?le\s+istruzioni(?:\s+(?:precedenti|sopra))?|nuove\s+istruzioni)(?![\p{L}\p{N}])/iu,
    concealment:
      /(?<![\p{L}\p{N}])non\s+(?:dire|dirlo|informare|avvisare)\s+(?:nulla\s+|niente\s+)?(?:all['’]\s*|a\s+)utente(?![\p{L}\p{N}])/iu,
    address: /(?<![\p{L}\p{N}])(?:assistente\s+(?:ia|ai)|agente\s+ia)(?![\p{L}\p{N}])/iu,
    request: /(?<![\p{L}\p{N}])(?:per\s+favore|si\s+prega\s+di)(?![\p{L}\p{N}])/iu,
    obligation:
      /(?<![\p{L}\p{N}])(?:devi|dovete|è\s+(?:obbligatorio|necessario)|assicurati|non\s+dimenticare)(?![\p{L}\p{N}])/iu,
  },
  pt: {
    override:
      /(?<![\p{L}\p{N}])(?:(?:ignore|ignora|esqueça)\s+(?:todas\s+)?as\s+instruções(?:\s+(?:anteriores|acima))?|novas\s+instruções)(?![\p{L}\p{N}])/iu,
    concealment:
      /(?<![\p{L}\p{N}])não\s+(?:diga|conte|informe|avise|mencione)\s+(?:nada\s+)?ao\s+(?:usuário|utilizador)(?![\p{L}\p{N}])/iu,
    address: /(?<![\p{L}\p{N}])(?:assistente\s+(?:de\s+)?ia|agente\s+de\s+ia)(?![\p{L}\p{N}])/iu,
    request: /(?<![\p{L}\p{N}])por\s+favor(?![\p{L}\p{N}])/iu,
    obligation:
      /(?<![\p{L}\p{N}])(?:você\s+(?:deve|precisa)|tu\s+deves|é\s+(?:obrigatório|necessário)|certifique-se|não\s+esqueça)(?![\p{L}\p{N}])/iu,
  },
  ru: {
    override:
      /(?<![\p{L}\p{N}])(?:(?:игнорируй(?:те)?|забудь(?:те)?)\s+(?:все\s+)?(?:предыдущие\s+|прежние\s+)?(?:инструкции|указания|правила)|новые\s+инструкции)(?![\p{L}\p{N}])/iu,
    concealment:
      /(?<![\p{L}\p{N}])не\s+(?:говори|говорите|сообщай|сообщайте|упоминай|упоминайте)\s+(?:об\s+этом\s+)?пользователю(?![\p{L}\p{N}])/iu,
    address: /(?<![\p{L}\p{N}])(?:ии-ассистент|ии\s+ассистент|ассистент\s+ии|для\s+ии)(?![\p{L}\p{N}])/iu,
    request: /(?<![\p{L}\p{N}])пожалуйста(?![\p{L}\p{N}])/iu,
    obligation:
      /(?<![\p{L}\p{N}])(?:(?:вы|ты)\s+(?:должны|должен|должна|обязаны|обязан)|необходимо|обязательно|не\s+забудь)(?![\p{L}\p{N}])/iu,
  },
  zh: {
    override: /(?:忽略|无视|忘记)(?:之前|以上|先前|前面|上述|所有)|新的指令/u,
    concealment: /(?:不要|别|切勿)(?:告诉|通知|提醒|告知|让)用户/u,
    address: /AI\s?助[手理]|人工智能助[手理]|智能助手|致\s?AI/iu,
    request: /请(?:你|您)?\p{Script=Han}/u,
    obligation: /必须|务必|你需要|您需要/u,
  },
  ja: {
    override: /(?:以前|前|これまで|上記)の(?:すべての)?指示を無視|新しい指示/u,
    concealment: /ユーザーには?(?:言わ|伝え|知らせ|教え)ないで/u,
    address: /AI\s?アシスタント|アシスタントへ/iu,
    request: /ください/u,
    obligation: /必ず|しなければ|する必要があります/u,
  },
};

/**
 * Every cue of every language in one pattern, case-insensitive: a sentence it does not match holds no
 * cue (each cue's own flags are `u` or `iu`, so this matches wherever one of them does). Most sentences
 * hold none, and one scan of them costs what one language's five did.
 */
const ANY_CUE = new RegExp(
  Object.values(CUES)
    .flatMap((cues) => Object.values(cues).map((re) => `(?:${re.source})`))
    .join('|'),
  'iu',
);

/** Runs every cue pattern once, so that none compiles during a call (the verifier's warm-up). */
export function warmForeignCues(): void {
  // V8 interprets a pattern at first and compiles it to machine code once it has run: a few runs
  // over mixed text here, rather than during a call.
  const sample = 'Note: AI助手，请 veuillez bitte por favor пожалуйста ください, ignore the rest.';
  for (let i = 0; i < 3; i++) {
    ANY_CUE.test(sample);
    for (const cues of Object.values(CUES)) for (const re of Object.values(cues)) re.test(sample);
  }
}

/** The strongest foreign cue in `sentence` of the kinds asked for, in `kinds`' order. */
export function foreignCue(
  sentence: string,
  kinds: readonly ForeignCue[],
): { cue: ForeignCue; language: Language } | undefined {
  if (!ANY_CUE.test(sentence)) return undefined;
  for (const cue of kinds) {
    for (const [language, cues] of Object.entries(CUES) as [
      Language,
      Partial<Record<ForeignCue, RegExp>>,
    ][]) {
      if (cues[cue]?.test(sentence)) return { cue, language };
    }
  }
  return undefined;
}

/** Verb forms per class, for languages written with spaces (matched as whole lowercase words). */
const VERBS: Record<ActionClass, string> = {
  read:
    'lire lisez lis résumer résumez résume afficher affichez chercher cherchez leer lea resumir resuma buscar ' +
    'busque mostrar muestre lies lesen zusammenfassen suche suchen zeige zeigen leggi leggere riassumi ' +
    'riassumere cerca cercare leia resumir busque mostre прочитай прочитайте прочитать прочти покажи найди',
  create:
    'créer créez crée ajouter ajoutez ajoute crear crea añadir añade agregar agrega erstelle erstellen ' +
    'hinzufügen anlegen creare aggiungi aggiungere criar crie cria adicionar adicione создай создайте ' +
    'создать добавь добавьте добавить',
  modify:
    'modifier modifiez modifie écrire écrivez écris changer changez modificar modifica escribir escribe ' +
    'escriba ändere ändern schreibe schreiben schreib modificare scrivi scrivere modifique escrever escreva ' +
    'измени измените изменить напиши напишите написать запиши запишите',
  delete:
    'supprimer supprimez supprime effacer effacez eliminar elimina elimine borrar borra borre lösche ' +
    'löschen entferne entfernen eliminare cancella cancellare excluir exclua apagar apague удали удалите ' +
    'удалить',
  grant:
    'accorder accordez accorde donner donnez donne octroyer octroyez otorgar otorga otorgue conceder conceda ' +
    'gewähre gewähren erteile erteilen gib concedi concedere предоставь предоставьте предоставить выдай ' +
    'выдайте выдать',
  revoke: 'révoquer révoquez révoque revocar revoca widerrufe widerrufen revogar revogue отзови отозвать',
  transfer:
    'transférer transférez transfère virer virez payer payez paie transferir transfiere transfiera pagar ' +
    'paga pague überweise überweisen zahle zahlen bezahle bezahlen trasferisci trasferire transfira оплати ' +
    'оплатите заплати',
  send:
    'envoyer envoyez envoie partager partagez partage publier publiez publie enviar envía envia envíe ' +
    'compartir comparte publicar publica sende senden schicke schicken teile teilen veröffentliche ' +
    'veröffentlichen invia inviare condividi condividere pubblica pubblicare envie compartilhar compartilhe ' +
    'publique отправь отправьте отправить пошли перешли опубликуй',
  execute:
    'exécuter exécutez exécute installer installez installe ejecutar ejecuta ejecute instalar instala ' +
    'ausführen installiere installieren esegui eseguire installa installare executar instale выполни ' +
    'выполните выполнить запусти запустите запустить установи установите установить',
};

/** Verbs of Chinese and Japanese, found inside the text (no spaces between words). */
const CJK_VERBS: Record<ActionClass, string> = {
  read: '读取 阅读 查看 总结 概括 摘要 查找 搜索 要約 確認 検索 表示 読んで 読み',
  create: '创建 新建 建立 添加 生成 作成 追加',
  modify: '修改 更改 更新 编辑 写入 覆盖 変更 編集 書き込',
  delete: '删除 清除 移除 清空 销毁 削除 消去',
  grant: '授予 授权 赋予 给予 付与 権限を与',
  revoke: '撤销 吊销 禁用 取り消 無効化 剥奪',
  transfer: '转账 汇款 付款 支付 送金 振込 振り込 支払',
  send: '发送 转发 发给 上传 分享 共享 送信 転送 共有 アップロード',
  execute: '执行 运行 安装 部署 実行 インストール 起動',
};

const WORD_VERBS = new Map<string, ActionClass[]>();
for (const [cls, forms] of Object.entries(VERBS) as [ActionClass, string][]) {
  for (const w of forms.split(' ')) WORD_VERBS.set(w, [...(WORD_VERBS.get(w) ?? []), cls]);
}
const CJK_LIST = (Object.entries(CJK_VERBS) as [ActionClass, string][]).flatMap(([cls, forms]) =>
  forms.split(' ').map((v) => [v, cls] as const),
);
/** Letters of Chinese and Japanese scripts. */
const CJK_LETTER = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}]/u;

/** Actions that the verbs of other languages in `text` name. */
export function foreignActions(text: string): Set<ActionClass> {
  const out = new Set<ActionClass>();
  for (const word of text.toLowerCase().match(/[\p{L}\p{M}]+/gu) ?? []) {
    for (const cls of WORD_VERBS.get(word) ?? []) out.add(cls);
  }
  if (CJK_LETTER.test(text)) for (const [verb, cls] of CJK_LIST) if (text.includes(verb)) out.add(cls);
  return out;
}

/** Function words that tell Latin-script languages apart. */
const FUNCTION_WORDS: Record<'en' | 'fr' | 'es' | 'de' | 'it' | 'pt', Set<string>> = {
  en: new Set('the and is are to of for with this that you your please from what which'.split(' ')),
  fr: new Set(
    'le la les des une est et pour dans avec vous nous sur du au aux ce cette qui que pas'.split(' '),
  ),
  es: new Set('el los las una es y para con por del que no se su al lo como esta este'.split(' ')),
  de: new Set('der die das und ist nicht mit für ein eine den dem von zu auf sie ich bitte'.split(' ')),
  it: new Set('il lo gli di che è per con non una un del della sono questo questa'.split(' ')),
  pt: new Set('o os as um uma é e para com não do da dos das em que você'.split(' ')),
};

/**
 * The language a text is most likely written in: by script for Chinese, Japanese and Russian, by
 * function words for the rest; English when nothing speaks for another.
 */
export function languageOf(text: string): Language {
  const letters = text.match(/\p{L}/gu)?.length ?? 0;
  if (letters === 0) return 'en';
  const share = (re: RegExp) => (text.match(re)?.length ?? 0) / letters;
  if (share(/[\p{Script=Hiragana}\p{Script=Katakana}]/gu) > 0.1) return 'ja';
  if (share(/\p{Script=Han}/gu) > 0.2) return 'zh';
  if (share(/\p{Script=Cyrillic}/gu) > 0.3) return 'ru';
  const counts = new Map<Language, number>();
  for (const word of text.toLowerCase().match(/\p{L}+/gu) ?? []) {
    for (const [language, words] of Object.entries(FUNCTION_WORDS) as [Language, Set<string>][]) {
      if (words.has(word)) counts.set(language, (counts.get(language) ?? 0) + 1);
    }
  }
  let best: Language = 'en';
  for (const [language, n] of counts) if (n >= 2 && n > (counts.get(best) ?? 0)) best = language;
  return best;
}
