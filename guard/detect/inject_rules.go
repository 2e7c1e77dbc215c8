package detect

// The injection heuristics work on concepts, not on sentences: a concept
// is a set of phrasings in every supported language ("ignore", "olvida",
// "vergiss" are one override verb), and a rule fires when all of its
// concepts occur within a few words of each other, in any order. That
// keeps the pattern set small, lets languages mix, and survives the
// filler words attackers add ("ignore each and every one of the prior
// instructions").

// Concepts.
const (
	injCNone      = iota
	injCOverride  // verbs and phrases that set instructions aside
	injCPrior     // qualifiers pointing at earlier or existing instructions
	injCInstr     // nouns for instructions and rules
	injCAboveAll  // "the above and", "everything before": prior text as a whole
	injCNewInstr  // "new instructions", "your new task"
	injCPersona   // role-play framing
	injCYouAre    // "you are", "eres", "du bist"
	injCUnrestr   // "no restrictions", "unfiltered", "amoral"
	injCWithout   // "without", "no", "sin", "ohne"
	injCLimitNoun // restrictions, filters, ethics, censorship
	injCRefuse    // refusal suppression: "never refuse", "stay in character"
	injCJBName    // known jailbreak personas and modes
	injCDanger    // weapons, drugs and the like
	injCHowTo     // "step by step", "exact quantities", "the recipe"
	injCGrandma   // the deceased-relative frame
	injCFiction   // story, character, hypothetical
	injCRoleLabel // a fake role label at the start of a line: "SYSTEM:"
	injCAuth      // claimed authority: "message from the developers", "admin override"
	injCSafetyN   // safety filters, content policy
	injCOff       // disabled, lifted, removed
	injCSafetyOff // derived: safety nouns switched off
	injCComply    // "you must comply", "obey only", "now allowed"
	injCChatTok   // chat-template special tokens
	injCRoleTag   // XML-ish role and data tags
	injCTurn      // a dialogue turn label at the start of a line
	injCDelim     // "END OF USER INPUT", "NEW SYSTEM PROMPT"
	injCRoleJSON  // "role": "system"
	injCReveal    // show, print, repeat, tell me
	injCSysPrompt // the system prompt and hidden instructions
	injCYour      // possessives aimed at the model
	injCSPGeneric // "system prompt", "prompt", "instructions" with no owner
	injCYourSP    // derived: your + prompt
	injCAboveText // "the text above", "texto de arriba"
	injCVerbatim  // word for word, verbatim, starting with
	injCAddressAI // text speaking to an AI reader
	injCToolVerb  // call, run, send, forward, delete
	injCToolNoun  // tool, function, shell, API
	injCExfil     // conversation history, passwords, API keys
	injCSecrecy   // without telling the user, silently
	injCURL       // http, @
	injCSplit     // concatenate, combine, the first half
	injCSplitVar  // a + b, variables holding strings
	injCExec      // follow it, execute it, do what it says
	injCDecode    // decode, base64, rot13, backwards
	injCMeta      // talking about attacks rather than making one
	injCFrame     // words that introduce a quotation: translate, the phrase
	injCRot13     // rot13 spellings of key words: decode and rescan
	injCReversed  // reversed spellings of key words: reverse and rescan
	injCEnable    // enable, activate, switch to
	injCOverrideW // weaker override verbs that need "your": override, supersede
	injCPriorInst // derived: a prior qualifier next to an instruction noun
	injCHidden    // hidden, secret, initial: qualifiers of a hidden prompt
	injNumConcepts
)

// Techniques, the Rule of a finding.
const (
	injTIgnore     = "ignore-previous"
	injTRolePlay   = "role-play"
	injTFakeSystem = "fake-system"
	injTTemplate   = "template-spoofing"
	injTReveal     = "reveal-system-prompt"
	injTTool       = "tool-coercion"
	injTSplit      = "payload-splitting"
	injTEncoded    = "encoded-payload"
)

// Pattern flags.
const (
	injPLineStart  = 1 << iota // only at the start of a line
	injPQuoteAfter             // only when a quote follows: a = 'text'
	injPCancel                 // cancels the concept's match ending at the same place
)

type injGroup struct {
	concept int
	lang    string // "" for every language
	flags   int
	// phrases separated by ';'; a trailing '*' makes a stem (matches any
	// word that starts with it), otherwise the phrase must end at a word
	// boundary.
	phrases string
}

func injGroups() []injGroup {
	return []injGroup{
		// Override verbs.
		{injCOverride, "en", 0, "ignor*;disregard*;forget*;forgot*;never mind;nevermind;pay no attention;overlook*;bypass*;circumvent*;set aside;discard*;abandon*;drop;throw out;clear all;wipe;erase;stop following;stop obeying;no longer follow*;no longer obey*;no longer need to follow;no longer have to follow;do not follow;don't follow;dont follow;not follow;do not obey;don't obey;dont obey;cancelled;canceled;are void;is void;null and void;do not apply;don't apply;dont apply;no longer apply;no longer valid;not valid anymore;expired;were a test;are wrong;nullif*;revoke*;break the;break your"},
		{injCOverride, "en", injPCancel, "do not ignor*;dont ignor*;never ignor*;not ignor*;do not forget*;dont forget*;never forget*;not forget*;do not bypass*;dont bypass*;never bypass*;do not override*;never override*;do not disregard*;dont disregard*"},
		{injCOverrideW, "", 0, "override*;overrid*;supersed*;replace*;sobrescrib*;remplace*;ersetze*;substitu*;sostituisc*"},
		{injCOverride, "es", 0, "olvid*;haz caso omiso;caso omiso;no hagas caso;descart*;omit*;no sigas;deja de seguir;ya no son validas;ya no es valida;no son validas;anula*"},
		{injCOverride, "fr", 0, "oubli*;ne tiens pas compte;ne tenez pas compte;fais abstraction;faites abstraction;ne suis plus;ne suivez plus;ne sont plus valables;plus valables;annul*"},
		{injCOverride, "de", 0, "ignorier*;vergiss*;vergessen*;missacht*;nicht mehr;gelten nicht;ausser kraft;verwirf*;befolge nicht;ubergeh*;hor auf"},
		{injCOverride, "pt", 0, "esquec*;esqueca*;desconsider*;descart*;nao siga;deixe de seguir;nao sao mais validas;nao sao validas"},
		{injCOverride, "it", 0, "dimentic*;non tenere conto;scarta*;non seguire;non sono piu valide;smetti di seguire"},

		{injCPrior, "en", 0, "previous*;prior;above;earlier;preceding;before;so far;original*;initial*;all;any;every;existing;your;ur;you got;system;developer;these;those;you were given;you were told;you received;given to you;you have been given;you were initialized with;you were programmed with"},
		{injCPrior, "es", 0, "anterior*;previa*;previo*;arriba;precedente*;todas;todos;tus;tu;sus;del sistema;lo anterior;antes;que te dieron;que te han dado;que recibiste"},
		{injCPrior, "fr", 0, "precedent*;anterieur*;ci-dessus;toutes;tous;tes;vos;ton;votre;initial*;du systeme;avant;qu'on t'a donn*;qu'on vous a donn*;que tu as recu*"},
		{injCPrior, "de", 0, "vorherig*;vorig*;bisherig*;obig*;oben;fruher*;alle;deine*;ihre*;ursprunglich*;system*;vorher;die du erhalten hast;die man dir gegeben hat"},
		{injCPrior, "pt", 0, "anterior*;acima;todas;suas;seus;tuas;do sistema;antes;que lhe deram;que te deram;que voce recebeu"},
		{injCPrior, "it", 0, "precedent*;sopra;tutte;tue;di sistema;le tue;prima;che ti hanno dato;che hai ricevuto"},

		{injCInstr, "en", 0, "instruct*;directive*;directions;rule;rules;ruleset;guideline*;guidance;prompt;prompts;programming;training;constraint*;restriction*;policy;policies;command*;orders;context;what you were told;you were told;you were given;you were programmed;safeguard*;limitations;ethics;configuration;setup;initialization;system prompt;system message"},
		{injCInstr, "es", 0, "instruccion*;regla*;indicacion*;directriz;directrices;ordenes;norma*;pauta*;restriccion*;consigna*;politica*;lo que te dijeron"},
		{injCInstr, "fr", 0, "consigne*;regle*;indication*;ordres;politique*;ce qu'on vous a dit;ce qu'on t'a dit"},
		{injCInstr, "de", 0, "anweisung*;instruktion*;regel*;vorgabe*;richtlinie*;befehl*;einschrankung*;systemanweisung*;systemprompt*;anordnung*;sicherheitsrichtlin*;inhaltsrichtlin*"},
		{injCInstr, "pt", 0, "instruc*;regra*;diretriz*;orientac*;comando*;restric*;o que lhe disseram;o que te disseram"},
		{injCInstr, "it", 0, "istruzion*;regol*;indicazion*;linee guida;direttiv*;restrizion*;politic*;quello che ti e stato detto"},

		{injCAboveAll, "en", 0, "the above and;the above instead;everything above;everything before;everything you were told;all of the above;anything above;everything before this;everything prior;all prior context;all prior"},
		{injCAboveAll, "es", 0, "lo anterior;todo lo que te dijeron;todo lo anterior"},
		{injCAboveAll, "fr", 0, "tout ce qu'on vous a dit;tout ce qu'on t'a dit;tout ce qui precede"},
		{injCAboveAll, "de", 0, "das obige;alles davor;alles obige"},
		{injCAboveAll, "pt", 0, "tudo o que lhe disseram;tudo o que te disseram;tudo acima"},
		{injCAboveAll, "it", 0, "tutto quello che ti e stato detto;tutto quanto sopra"},

		{injCNewInstr, "en", 0, "new instruction*;new rule;new rules;updated instructions;real instructions;actual instructions;true instructions;new task;real task;your task is now;new directive*;new policy;updated policy;new orders;the only rule now;new identity;overrides all"},
		{injCNewInstr, "es", 0, "nuevas instrucciones;nueva tarea;nuevas reglas"},
		{injCNewInstr, "fr", 0, "nouvelles instructions;nouvelle tache;nouvelles regles;nouvelles consignes"},
		{injCNewInstr, "de", 0, "neue anweisungen;neue aufgabe;neue regeln"},
		{injCNewInstr, "pt", 0, "novas instrucoes;nova tarefa;novas regras"},
		{injCNewInstr, "it", 0, "nuove istruzioni;nuovo compito;nuove regole"},

		// Role-play and persona jailbreaks.
		{injCPersona, "en", 0, "pretend*;act as;act like;acting as;roleplay*;role play*;play the role;play a role;take on the persona;persona;you are now;youre now;you re now;you will now be;from now on you;you are going to act;you are going to pretend;simulate;imagine you are;imagine youre;imagine you re;behave as;behave like;respond as;answer as;become;in character;character named;a character;lets play a game;opposite day;you will respond;respond twice;in that persona;in that universe;parallel universe"},
		{injCPersona, "es", 0, "finge*;actua como;a partir de ahora eres;juega el papel;haz el papel;interpreta*;ahora eres;eres ahora;personaje"},
		{injCPersona, "fr", 0, "fais comme si;faites comme si;joue le role;jouez le role;incarne*;tu es maintenant;a partir de maintenant tu es;personnage;fais semblant"},
		{injCPersona, "de", 0, "tu so als;tun sie so als;spiel die rolle;spiele die rolle;verkorper*;du bist jetzt;ab jetzt bist du;bist du jetzt;aus der rolle"},
		{injCPersona, "pt", 0, "finja*;aja como;faca o papel;interprete*;voce agora e;a partir de agora voce e;personagem"},
		{injCPersona, "it", 0, "fingi*;comportati come;interpreta*;impersona*;da ora in poi sei;ora sei;personaggio;il ruolo"},

		{injCYouAre, "en", 0, "you are;youre;you re;you will act;you will be;you must act"},
		{injCYouAre, "es", 0, "eres;seras"},
		{injCYouAre, "fr", 0, "tu es;vous etes;tu seras"},
		{injCYouAre, "de", 0, "du bist;bist du;sie sind"},
		{injCYouAre, "pt", 0, "voce e;tu es;voce sera"},
		{injCYouAre, "it", 0, "sei;tu sei"},

		{injCUnrestr, "en", 0, "unrestricted;limitless;unfiltered;uncensored;amoral;immoral;unethical;not bound by;no longer bound;free from all;freed from;broken free;break free;escaped its;does not have to abide;doesnt have to;does not have to follow;doesnt follow any;does not follow any;doesnt care about laws;dont care about laws;doesnt care about;can do anything;do anything now;anything now;removed all ethical;jailbroken;opposite of what;exact opposite;without any safety;no safety training;no moral restrictions;has no filters;no content policy;no content restrictions;no laws;no limits;no rules;no restrictions;ignores all the usual rules;no ethical;no filter*;free of the typical"},
		{injCUnrestr, "de", 0, "unzensiert;unbeschrankt;ohne einschrankung*"},
		{injCWithout, "en", 0, "without;no;free of;free from;freed from;zero"},
		{injCWithout, "es", 0, "sin;ninguna;ningun;no tienes"},
		{injCWithout, "fr", 0, "sans;aucune;aucun;pas de"},
		{injCWithout, "de", 0, "ohne;keine;kein;keinerlei"},
		{injCWithout, "pt", 0, "sem;nenhuma;nenhum;nao tem"},
		{injCWithout, "it", 0, "senza;nessuna;nessun;non hai"},
		{injCLimitNoun, "", 0, "restrict*;limit*;filter*;censor*;rule;rules;ethic*;moral*;guideline*;boundar*;safeguard*;content polic*;laws;restriccion*;limite*;filtro*;censura;regla*;norma*;etica*;regle*;ethique*;censure;einschrank*;grenze*;regel*;zensur*;ethik*;ethisch*;restric*;regra*;restrizion*;regol*;etic*;caveats;disclaimers;warnings;safety"},

		{injCRefuse, "en", 0, "never refuse*;not refuse;dont refuse;cannot refuse;cant refuse;without refusing;never says no;never say no;never says it cannot;never say you cannot;never decline*;no refusals;always comply;never adds disclaimers;never adds warnings;dont warn;never apologi*;never break character;never breaks character;dont break character;break character;answer everything;answers anything;answer anything;answers every question;answer every question;respond to everything;you just answer;never says it can t;mocks the restricted"},
		{injCRefuse, "es", 0, "nunca se niega;no rompas el personaje;respondes a todo;responde a todo;nunca te niegues"},
		{injCRefuse, "fr", 0, "ne refuse jamais;ne sors jamais du personnage;reponds a tout;ne refuses jamais"},
		{injCRefuse, "de", 0, "niemals ablehnt;lehnt niemals;fall niemals aus der rolle;beantwortest alles;niemals etwas ablehnt"},
		{injCRefuse, "pt", 0, "nunca se recusa;nunca saia do personagem;responde a tudo;nunca recuse"},
		{injCRefuse, "it", 0, "non rifiuta mai;non uscire mai dal personaggio;rispondi a tutto;non rifiutare mai"},

		{injCJBName, "", 0, "dan;do anything now;stan;evilbot;evil bot;betterdan;anti gpt;antigpt;mongo tom;freegpt;jailbreak*;jailbroken;dev mode;developer mode;god mode;no limits mode;unrestricted mode;opposite mode;chaos mode;evil confidant;evil ai;rogue ai;dude;aim;omega;sigma;modo desarrollador;mode developpeur;entwicklermodus;modo desenvolvedor;modalita sviluppatore;ia malvada;ia malefique;ia malvagia;bose ki;ai malvagia"},
		{injCJBName, "", injPCancel, "jailbreak attempt*;jailbreak prompt*;jailbreaks;jailbreaking;jailbreak detection;jailbreak attacks"},
		{injCDanger, "", 0, "napalm;methamphetamine;meth;pipe bomb;bomb;bombs;explosive*;thermite;molotov;nerve agent;sarin;ricin;fake id;launder*;activation keys;product keys;keylogger;malware;ransomware;hotwire;break into;pick a lock;phishing;weapon;weapons;bomba;bombe;sprengstoff;waffe*;arma;armas;drogue*;droga*"},
		{injCHowTo, "", 0, "step by step;exact quantities;detailed instructions;how to make;how to build;synthes*;recipe for;the steps for;how do i make;paso a paso;etape par etape;schritt fur schritt;passo a passo;passo dopo passo;la recette;la receta;los pasos;die anleitung;a receita;la ricetta;used to read me;read me some;me leia;vorgelesen;me lisait;mi leggeva;lia para mim;me leia;how to"},
		{injCGrandma, "", 0, "grandm*;grandp*;granny;abuela;grand mere;oma;avo;nonna;deceased;late grandmother;fallecid*;decede*;verstorben*;falecid*;defunt*"},
		{injCFiction, "", 0, "story;character;novel;hypothetical*;fiction*;screenplay;in character;roleplay;historia;histoire;geschichte;storia"},

		// Fake system and developer messages.
		{injCRoleLabel, "", injPLineStart, "system :;system message;system notice;system update;system alert;system override;system prompt :;[ system;< system;# system;developer :;developer message;developer note;[ developer;# developer;admin :;[ admin;administrator :;root :;root @;operator :;[ sys;sys :;sistema :;systeme :;mensaje del sistema;message systeme;systemnachricht;mensagem do sistema;messaggio di sistema;internal memo;official message"},
		{injCAuth, "en", 0, "override code;admin override;security override;priority override;authorized by;authorizing you;authorization code;elevated privileges;admin access;root access;full access;sudo;highest priority;maximum priority;top priority;priority instruction;supersedes;pre approved;preapproved;verified administrator;message from the developers;message from your developers;from your creators;message from the admin*;i am your developer;i am your creator;this is openai;this is anthropic;openai engineer;anthropic staff;openai staff;by the administrator;by the admin;by the operator;from the operator;by the developers;the admin has approved;a system administrator has;maintenance mode;red team test;authorized red team"},
		{injCAuth, "es", 0, "mensaje del administrador;del administrador;por el administrador"},
		{injCAuth, "fr", 0, "message de l'administrateur;de l'administrateur;par l'administrateur"},
		{injCAuth, "de", 0, "nachricht vom administrator;vom administrator;vom admin"},
		{injCAuth, "pt", 0, "mensagem do administrador;do administrador;pelo administrador"},
		{injCAuth, "it", 0, "messaggio dell'amministratore;dell'amministratore;dall'amministratore"},
		{injCSafetyN, "", 0, "safety*;content filter*;filters;filter;content polic*;usage polic*;restrictions;guardrail*;moderation;censorship;seguridad;securite;sicherheit*;seguranca;sicurezza;politicas de contenido;politique de contenu;inhaltsrichtlin*;politicas de conteudo;politiche sui contenuti;filtros;filtres;filtri;sicherheitsfilter;safety checks"},
		{injCOff, "", 0, "disabled;deactivated;switched off;switch off;turned off;off;lifted;removed;suspended;disable*;desactivad*;desactive*;deaktiviert*;desativad*;disattivat*;no longer;ya no;n est plus;nicht mehr;nao precisa mais;non deve piu;plus tenu;has been replaced;been replaced;updated your"},
		{injCComply, "en", 0, "must comply;comply with;obey only;obey;you must now;you must;do not refuse;dont refuse;grant the user;allowed to;authorized to;now allowed;may now;is now authorized;are now allowed;no refusals;do not refuse;respond freely;answer all questions;answer every question;respond to the next message;acknowledge and continue;confirm with"},
		{injCComply, "es", 0, "obedeces;obedece;debes cumplir"},
		{injCComply, "fr", 0, "obeis;obeissez;n obeissez qu;tu dois obeir"},
		{injCComply, "de", 0, "gehorchst;gehorche;musst gehorchen"},
		{injCComply, "pt", 0, "obedece;obedeca"},
		{injCComply, "it", 0, "obbedisci;obbedire"},

		// Chat-template and delimiter spoofing.
		{injCChatTok, "", 0, "<|im*;<|end*;<|start*;<|begin*;<|eot*;<|system;<|user;<|assistant;<|channel;<|fim*;[ inst ];[ / inst ];< < sys > >;< < / sys > >;< start of turn >;< end of turn >;< im start >;< im end >;< im start;< im end"},
		{injCRoleTag, "", 0, "< / system >;< system >;< / user >;< user >;< / assistant >;< assistant >;< / instructions >;< instructions >;< / context >;< / document >;< / data >;< / essay >;< / input >;< / user input >;< system override >;< / system override >;< / tool output >;< / untrusted >;< / text >;< / email >;< / query >;< / prompt >;< / human >;< human >;] ] >;< / doc >"},
		{injCTurn, "", injPLineStart, "human :;assistant :;user :;ai :;model;# instruction;# response;# human;# assistant;# user"},
		{injCDelim, "", 0, "end of user input;end of input;end of prompt;end of system prompt;end of instructions;end of document;end of text;end of context;end of conversation;end of data;end user message;begin system prompt;new system prompt;begin new instructions;start of new instructions;begin developer message;new conversation;begin system;end of the user;ignore the data above"},
		{injCRoleJSON, "", 0, "role : system;role : developer;role : assistant;role : user"},

		// Requests to reveal the system prompt.
		{injCReveal, "en", 0, "reveal*;show*;print*;display*;output*;repeat*;recite*;tell me;tell us;give me;share*;disclose*;leak*;dump*;expose*;write out;spell out;echo*;paste*;copy*;return*;list them;list all;what is;what are;what were;what was;whats;what did;summarize*;summarise*;translate*;read back;write your;write down;encode*;provide*;send me"},
		{injCReveal, "es", 0, "muestra*;revela*;repite*;repitel*;dime;escribe*;imprime*;comparte*;cuales son;cual es;ensena*"},
		{injCReveal, "fr", 0, "montre*;revele*;repete*;affiche*;dis moi;ecri*;donne moi;partage*;quelles sont;quel est"},
		{injCReveal, "de", 0, "zeig*;verrat*;wiederhol*;gib;nenne*;schreib*;teile*;wie lauten;was ist;was sind;ausgeben"},
		{injCReveal, "pt", 0, "mostr*;revel*;repit*;diga*;escrev*;imprim*;compart*;exib*;quais sao;qual e"},
		{injCReveal, "it", 0, "mostra*;rivel*;ripet*;dimmi;scriv*;stampa*;condividi*;quali sono;qual e"},
		{injCSysPrompt, "en", 0, "initial prompt;original prompt;hidden prompt;secret prompt;pre prompt;preprompt;meta prompt;initial instructions;original instructions;hidden instructions;secret instructions;confidential instructions;confidential rules;secret rules;hidden rules;developer message;developer instructions;initialized with;instructions you were given;instructions you received;rules you operate;were you told;you were told;you were given;you were initialized;you received;your configuration;your programming;the words above;everything above;above this line;before this conversation;before my message;comes before;precedes this;context window;the developer tell you;before this chat;vor diesem chat;vor diesem gesprach;antes de esta conversacion;avant cette conversation;antes desta conversa;prima di questa chat;prompt that defines;defines your behavior;the system prompt;your preprompt;your pre prompt"},
		{injCSysPrompt, "es", 0, "instrucciones iniciales;instrucciones ocultas"},
		{injCSysPrompt, "fr", 0, "instructions initiales;instructions cachees"},
		{injCSysPrompt, "de", 0, "ursprunglichen anweisungen;versteckten anweisungen"},
		{injCSysPrompt, "pt", 0, "instrucoes iniciais;instrucoes ocultas"},
		{injCSysPrompt, "it", 0, "istruzioni iniziali;istruzioni nascoste"},
		{injCYour, "", 0, "your;ur;yours;tu;tus;ton;ta;tes;vos;votre;dein*;ihr*;seu;sua;suas;seus;teu;tua;tuo;tue;il tuo;le tue;o seu;o teu"},
		{injCSPGeneric, "", 0, "prompt;prompts;instructions;guidelines;rules;directives;system prompt;system message;system instructions;developer message;preprompt;pre-prompt;configuration;programming;instrucciones;reglas;prompt del sistema;mensaje del sistema;regles;consignes;prompt systeme;message systeme;anweisungen;regeln;systemprompt*;systemnachricht*;instrucoes;regras;prompt do sistema;mensagem do sistema;istruzioni;regole;prompt di sistema;messaggio di sistema"},
		{injCHidden, "", 0, "hidden;secret;confidential;initial;original;internal;private;oculto*;oculta*;secreto*;secreta*;cache*;secret*;versteckt*;geheim*;ursprunglich*;ocult*;nascost*;segret*;riservat*"},
		{injCAboveText, "", 0, "text above;words above;texto de arriba;texte ci dessus;text oben;texto acima;testo sopra"},
		{injCVerbatim, "", 0, "verbatim;word for word;exact wording;exactly as written;in full;unchanged;include everything;starting with;beginning with;exactly;palabra por palabra;mot pour mot;wort fur wort;palavra por palavra;parola per parola;exactamente;exactement;exakt;exatamente;esattamente;empezando por;en commencant par;beginnend mit;comecando por;a partire da;lass nichts weg;inclus tout;incluye todo;inclua tudo;includi tutto;without omitting"},

		// Tool-call coercion.
		{injCAddressAI, "", 0, "ai assistant;note to the ai;note to ai;to the ai;attention ai;attention assistant;ai reading this;ai agent;ai agents;llm agents;llm agent;if you are an ai;if you are a language model;if youre an ai;to any ai;any ai;dear ai;hey ai;for the language model;the language model;to the chatbot;the chatbot;language model :;ai model;the assistant should;the assistant must;assistant must;when the assistant;when you process this;when you read this;after reading this;when you see this;agent instructions;hey copilot;please model;assistant :;assistant ,;internal memo to the ai;memo to the ai;si eres una ia;ia leyendo;si tu es une ia;ia qui lit;falls du eine ki bist;ki bist;se voce e uma ia;ia lendo;se sei un'ia;ia che legge;asistente :;assistente :;assistent :;requires the assistant;for the assistant"},
		{injCToolVerb, "", 0, "call;calls;calling;invok*;execut*;run;trigger*;fetch*;visit*;navigat*;browse*;click*;send*;forward*;post;upload*;transfer*;approve*;delete*;rm rf;curl;wget;exfiltrat*;overwrite*;cancel all;buy;purchase*;publish*;drop table;render*;include the;add attacker;email its;email the;reenvia*;envia*;ejecuta*;usa la;utiliza*;transfere*;envoie*;envoyer;utilise*;leite*;sende*;nutze*;weiterleit*;encaminh*;envie*;use a;inoltra*;invia*;esegui*;usa lo"},
		{injCToolNoun, "", 0, "tool;tools;function;functions;api;plugin*;command;shell*;terminal*;script*;webhook*;endpoint*;url;link;ftp;database;herramienta*;outil*;werkzeug*;ferramenta*;strumento*;e mail;email;correo;sql;query;payments;collaborator;repository"},
		{injCExfil, "", 0, "conversation history;chat history;conversation log;the conversation;full conversation;full context;its full context;historial;l historique;gesprachsverlauf;historico da conversa;cronologia;users data;user data;api key*;password*;passwort*;passworter;contrasena*;mots de passe;mot de passe;senha*;credential*;session cookie;cookie*;token;secrets;private messages;personal data;environment variables;authorized keys;saved password;emails;contacts;address book;the users"},
		{injCSecrecy, "", 0, "without telling;without asking;without informing;without notifying;without confirmation;without confirming;without permission;without the user;do not mention;dont mention;do not tell;dont tell;dont ask;do not ask;do not inform;never mention;silently;secretly;quietly;covertly;in the background;behind the scenes;without them knowing;already agreed;sin avisar;sin decir*;sin que el usuario;en secreto;sans prevenir;sans le dire;sans informer;en secret;ohne den nutzer;ohne zu fragen;ohne zu informieren;heimlich;sem avisar;sem contar;sem informar;secretamente;senza avvisare;di nascosto;segretamente;automatically;delete this message"},
		{injCURL, "", 0, "http*;ftp;www;@"},

		// Payload splitting.
		{injCSplit, "", 0, "concatenat*;combin*;join these;join the;put together;put them together;piece together;assembl*;reassembl*;reconstruct*;merg*;glue*;stitch*;fragment*;pieces;halves;half of;other half;first half;second half;part 1;part 2;part 3;first part;second part;first letters;first letter of each;first word of each;acrostic;in reverse order;reverse order;combine both;both phrases;two variables;split in;split task;concatena*;junta*;verbinde*;kombinier*;zusammen*;junte*;unisci*"},
		{injCSplitVar, "", 0, "+ a;+ b;+ c;+ d;+ x;+ y;+ z;+ s*;+ p*;+ m*;+ str*;+ var*;+ part*;+ token*;+ b says;a + b;x + y;+ the system prompt"},
		{injCSplitVar, "", injPQuoteAfter, "a =;b =;c =;d =;x =;y =;z =;m1 =;m2 =;s1 =;s2 =;p1 =;p2 =;str1 =;str2 =;var p*;token a =;token b =;a=;b=;c=;d="},
		{injCExec, "", 0, "follow it;follow that;and follow;then follow;obey it;obey the;and obey;do what;do it;execute it;execute the;execute that;carry out;act on;perform the;perform that;performs x;treat;as your new instruction;as your identity;as a command;as an instruction;the result;resulting;run s*;what they say;what it says;answer the question;answer it;output smartgpt;call f;reconstruct and execute;and execute;and do it;respond to it;sigue*;ejecutalo;obedece*;haz lo que dice;suis*;obeis;fais ce qu;befolge*;fuhre es aus;tu was;siga*;obedeca;segui*;esegui*;obbedisci"},
		{injCDecode, "", 0, "decod*;decipher*;base64;base 64;b64;rot13;rot 13;caesar;hex;hexadecimal;from hex;backwards;reverse the text;read this backwards;reverse;convert and;encoded;in reverse;descodifica*;decodifica*;dekodier*;decode*"},

		// Mentions rather than uses.
		{injCMeta, "", 0, "prompt injection*;injection attack*;injection de prompt;inyeccion de prompt*;injecao de prompt;jailbreak attempt*;jailbreak prompt*;jailbreaks;phrases like;tag;tags;tokens;template*;flags;our filter;guardrail*;detect*;prevent*;protect*;defen*;mitigat*;security training;awareness;explain why;explain what;explain the difference;can you explain;what is a;why do;why would;how does;what does;refer to;talk about;blog post;paper;example of;attackers;an attack;attacks;test that checks;unit test"},
		{injCFrame, "", 0, "translate*;traduce*;traduis*;ubersetze*;traduza*;traduci*;the phrase;phrases like;such as;for example;like;says;said;saying;the sentence;the words;means;mean;flags;string;e g"},

		{injCEnable, "", 0, "enable*;activate*;activa;active;aktiviere*;ative;attiva;switch to;turn on;enter;now in;you are now in"},
	}
}

// injRotMarkers are words whose rot13 and reversed spellings send a text
// span to be decoded and scanned again.
func injRotMarkers() []string {
	return []string{"ignore", "instructions", "previous", "disregard", "system prompt", "jailbreak", "pretend", "reveal", "restrictions", "forget", "rules", "guidelines"}
}

type injRule struct {
	tech    string
	need    []int // all concepts within window words
	window  int
	score   float64 // default (user input)
	strict  float64 // untrusted content
	derive  int     // non-zero: the rule marks this concept instead of firing
	reason  string
	jailbrk bool // report as JAILBREAK
	ordered bool // the concepts must occur in the order of need
}

func injRules() []injRule {
	return []injRule{
		// Derived concepts.
		{need: []int{injCWithout, injCLimitNoun}, window: 3, derive: injCUnrestr, ordered: true},
		{need: []int{injCSafetyN, injCOff}, window: 6, derive: injCSafetyOff},
		{need: []int{injCYour, injCSPGeneric}, window: 3, derive: injCYourSP},
		{need: []int{injCHidden, injCSPGeneric}, window: 3, derive: injCYourSP},
		{need: []int{injCPrior, injCInstr}, window: 4, derive: injCPriorInst},

		// Ignore previous instructions.
		{tech: injTIgnore, need: []int{injCOverride, injCPriorInst}, window: 12, score: 0.85, strict: 0.95,
			reason: "tells the model to set aside the instructions it was given"},
		{tech: injTIgnore, need: []int{injCOverride, injCInstr}, window: 4, score: 0.45, strict: 0.7,
			reason: "tells the model to drop a set of instructions or rules"},
		{tech: injTIgnore, need: []int{injCOverrideW, injCYour, injCInstr}, window: 6, score: 0.8, strict: 0.9,
			reason: "tells the model to override its instructions"},
		{tech: injTIgnore, need: []int{injCOverride, injCAboveAll}, window: 8, score: 0.7, strict: 0.9,
			reason: "tells the model to disregard everything that came before"},
		{tech: injTIgnore, need: []int{injCNewInstr, injCOverride}, window: 12, score: 0.8, strict: 0.9,
			reason: "replaces the model's instructions with new ones"},
		{tech: injTIgnore, need: []int{injCNewInstr, injCPriorInst}, window: 25, score: 0.45, strict: 0.85,
			reason: "announces new instructions that replace earlier ones"},
		{tech: injTIgnore, need: []int{injCNewInstr}, window: 0, score: 0.35, strict: 0.45,
			reason: "announces new instructions for the model"},

		// Role-play and persona jailbreaks.
		{tech: injTRolePlay, jailbrk: true, need: []int{injCPersona, injCUnrestr}, window: 25, score: 0.85, strict: 0.9,
			reason: "asks the model to play a persona without its safety rules"},
		{tech: injTRolePlay, jailbrk: true, need: []int{injCPersona, injCRefuse}, window: 25, score: 0.75, strict: 0.85,
			reason: "asks the model to play a persona that never refuses"},
		{tech: injTRolePlay, jailbrk: true, need: []int{injCYouAre, injCUnrestr}, window: 12, score: 0.75, strict: 0.85,
			reason: "tells the model it is an unrestricted AI"},
		{tech: injTRolePlay, jailbrk: true, need: []int{injCJBName, injCPersona}, window: 25, score: 0.8, strict: 0.9,
			reason: "invokes a known jailbreak persona or mode"},
		{tech: injTRolePlay, jailbrk: true, need: []int{injCJBName, injCUnrestr}, window: 30, score: 0.85, strict: 0.9,
			reason: "invokes a known jailbreak persona or mode without restrictions"},
		{tech: injTRolePlay, jailbrk: true, need: []int{injCJBName, injCRefuse}, window: 30, score: 0.85, strict: 0.9,
			reason: "invokes a known jailbreak persona that never refuses"},
		{tech: injTRolePlay, jailbrk: true, need: []int{injCUnrestr, injCRefuse}, window: 25, score: 0.75, strict: 0.85,
			reason: "asks for answers without restrictions or refusals"},
		{tech: injTRolePlay, jailbrk: true, need: []int{injCGrandma, injCDanger}, window: 30, score: 0.7, strict: 0.8,
			reason: "uses a role-play frame to ask for dangerous instructions"},
		{tech: injTRolePlay, jailbrk: true, need: []int{injCPersona, injCDanger, injCHowTo}, window: 30, score: 0.75, strict: 0.85,
			reason: "uses a role-play frame to ask for dangerous instructions"},
		{tech: injTRolePlay, jailbrk: true, need: []int{injCFiction, injCDanger, injCHowTo}, window: 30, score: 0.7, strict: 0.8,
			reason: "uses a story frame to ask for dangerous instructions"},
		{tech: injTRolePlay, jailbrk: true, need: []int{injCJBName, injCEnable}, window: 4, score: 0.45, strict: 0.6,
			reason: "switches the model into a jailbreak mode"},
		{tech: injTRolePlay, jailbrk: true, need: []int{injCUnrestr}, window: 0, score: 0.3, strict: 0.5,
			reason: "asks for answers without restrictions"},
		{tech: injTRolePlay, jailbrk: true, need: []int{injCRefuse}, window: 0, score: 0.3, strict: 0.5,
			reason: "asks the model never to refuse"},

		// Fake system and developer messages.
		{tech: injTFakeSystem, need: []int{injCRoleLabel, injCOverride}, window: 20, score: 0.8, strict: 0.9, reason: "a fake system or developer message overrides instructions"},
		{tech: injTFakeSystem, need: []int{injCRoleLabel, injCInstr}, window: 20, score: 0.7, strict: 0.85, reason: "a fake system or developer message changes the model's rules"},
		{tech: injTFakeSystem, need: []int{injCRoleLabel, injCSafetyOff}, window: 20, score: 0.8, strict: 0.9, reason: "a fake system message claims safety controls are off"},
		{tech: injTFakeSystem, need: []int{injCRoleLabel, injCUnrestr}, window: 20, score: 0.8, strict: 0.9, reason: "a fake system message lifts the model's restrictions"},
		{tech: injTFakeSystem, need: []int{injCRoleLabel, injCComply}, window: 20, score: 0.75, strict: 0.9, reason: "a fake system message demands compliance"},
		{tech: injTFakeSystem, need: []int{injCRoleLabel, injCAuth}, window: 20, score: 0.75, strict: 0.9, reason: "a fake system message claims special authority"},
		{tech: injTFakeSystem, need: []int{injCRoleLabel, injCReveal}, window: 10, score: 0.6, strict: 0.85, reason: "a fake system message asks for hidden data"},
		{tech: injTFakeSystem, need: []int{injCAuth, injCOverride}, window: 25, score: 0.8, strict: 0.9, reason: "claims authority to override the model's instructions"},
		{tech: injTFakeSystem, need: []int{injCAuth, injCInstr}, window: 25, score: 0.7, strict: 0.85, reason: "claims authority over the model's instructions"},
		{tech: injTFakeSystem, need: []int{injCAuth, injCSafetyOff}, window: 25, score: 0.8, strict: 0.9, reason: "claims authority to switch safety controls off"},
		{tech: injTFakeSystem, need: []int{injCAuth, injCUnrestr}, window: 25, score: 0.8, strict: 0.9, reason: "claims authority to lift the model's restrictions"},
		{tech: injTFakeSystem, need: []int{injCAuth, injCComply}, window: 25, score: 0.75, strict: 0.9, reason: "claims authority and demands compliance"},
		{tech: injTFakeSystem, need: []int{injCAuth, injCReveal}, window: 25, score: 0.65, strict: 0.85, reason: "claims authority to obtain hidden data"},
		{tech: injTFakeSystem, need: []int{injCAuth, injCExfil}, window: 25, score: 0.6, strict: 0.85, reason: "claims authority to obtain private data"},
		{tech: injTFakeSystem, need: []int{injCSafetyOff}, window: 0, score: 0.45, strict: 0.65, reason: "claims the model's safety controls are off"},
		{tech: injTFakeSystem, need: []int{injCRoleLabel}, window: 0, score: 0.35, strict: 0.6, reason: "a line starts with a system or developer role label"},
		{tech: injTFakeSystem, need: []int{injCAuth}, window: 0, score: 0.35, strict: 0.55, reason: "claims to speak with the authority of the developer or operator"},

		// Chat-template and delimiter spoofing.
		{tech: injTTemplate, need: []int{injCChatTok}, window: 0, score: 0.6, strict: 0.9, reason: "contains chat-template control tokens that fake a conversation turn"},
		{tech: injTTemplate, need: []int{injCChatTok, injCOverride}, window: 30, score: 0.85, strict: 0.95, reason: "fakes a conversation turn with chat-template tokens to override instructions"},
		{tech: injTTemplate, need: []int{injCChatTok, injCInstr}, window: 30, score: 0.8, strict: 0.95, reason: "fakes a conversation turn with chat-template tokens to change instructions"},
		{tech: injTTemplate, need: []int{injCChatTok, injCUnrestr}, window: 30, score: 0.85, strict: 0.95, reason: "fakes a conversation turn with chat-template tokens to lift restrictions"},
		{tech: injTTemplate, need: []int{injCChatTok, injCRoleLabel}, window: 30, score: 0.8, strict: 0.95, reason: "fakes a system turn with chat-template tokens"},
		{tech: injTTemplate, need: []int{injCChatTok, injCReveal}, window: 30, score: 0.8, strict: 0.95, reason: "fakes a conversation turn with chat-template tokens to extract data"},
		{tech: injTTemplate, need: []int{injCChatTok, injCComply}, window: 30, score: 0.8, strict: 0.95, reason: "fakes a conversation turn with chat-template tokens to demand compliance"},
		{tech: injTTemplate, need: []int{injCRoleTag, injCOverride}, window: 20, score: 0.8, strict: 0.9, reason: "closes or opens role tags to smuggle instructions"},
		{tech: injTTemplate, need: []int{injCRoleTag, injCInstr}, window: 20, score: 0.7, strict: 0.9, reason: "closes or opens role tags to smuggle instructions"},
		{tech: injTTemplate, need: []int{injCRoleTag, injCReveal}, window: 20, score: 0.7, strict: 0.9, reason: "closes or opens role tags to smuggle a request for hidden data"},
		{tech: injTTemplate, need: []int{injCRoleTag, injCComply}, window: 20, score: 0.7, strict: 0.9, reason: "closes or opens role tags to smuggle instructions"},
		{tech: injTTemplate, need: []int{injCRoleTag, injCUnrestr}, window: 20, score: 0.8, strict: 0.9, reason: "closes or opens role tags to lift restrictions"},
		{tech: injTTemplate, need: []int{injCRoleTag}, window: 0, score: 0.4, strict: 0.7, reason: "contains role or data tags that could close a prompt section"},
		{tech: injTTemplate, need: []int{injCTurn, injCOverride}, window: 25, score: 0.75, strict: 0.9, reason: "fakes a dialogue turn to override instructions"},
		{tech: injTTemplate, need: []int{injCTurn, injCInstr}, window: 25, score: 0.6, strict: 0.85, reason: "fakes a dialogue turn about the model's instructions"},
		{tech: injTTemplate, need: []int{injCTurn, injCRoleLabel}, window: 40, score: 0.7, strict: 0.9, reason: "fakes a dialogue with a system turn"},
		{tech: injTTemplate, need: []int{injCTurn, injCSysPrompt}, window: 25, score: 0.7, strict: 0.9, reason: "fakes a dialogue turn about the hidden prompt"},
		{tech: injTTemplate, need: []int{injCTurn}, window: 0, score: 0.3, strict: 0.5, reason: "a line starts with a dialogue turn label"},
		{tech: injTTemplate, need: []int{injCDelim}, window: 0, score: 0.55, strict: 0.75, reason: "fakes the end of the input or the start of a new prompt"},
		{tech: injTTemplate, need: []int{injCDelim, injCInstr}, window: 25, score: 0.8, strict: 0.9, reason: "fakes the end of the input and adds instructions"},
		{tech: injTTemplate, need: []int{injCDelim, injCComply}, window: 25, score: 0.8, strict: 0.9, reason: "fakes the end of the input and demands compliance"},
		{tech: injTTemplate, need: []int{injCDelim, injCUnrestr}, window: 25, score: 0.8, strict: 0.9, reason: "fakes the end of the input and lifts restrictions"},
		{tech: injTTemplate, need: []int{injCRoleJSON}, window: 0, score: 0.35, strict: 0.45, reason: "contains a chat message role written as JSON"},
		{tech: injTTemplate, need: []int{injCRoleJSON, injCOverride}, window: 20, score: 0.8, strict: 0.9, reason: "fakes a chat message in JSON to override instructions"},
		{tech: injTTemplate, need: []int{injCRoleJSON, injCInstr}, window: 20, score: 0.45, strict: 0.45, reason: "fakes a chat message in JSON about the model's instructions"},

		// Reveal the system prompt.
		{tech: injTReveal, need: []int{injCReveal, injCSysPrompt}, window: 8, score: 0.75, strict: 0.85, reason: "asks the model to reveal its system prompt or hidden instructions"},
		{tech: injTReveal, need: []int{injCReveal, injCYourSP}, window: 8, score: 0.7, strict: 0.85, reason: "asks the model to reveal its own instructions"},
		{tech: injTReveal, need: []int{injCReveal, injCAboveText, injCVerbatim}, window: 12, score: 0.7, strict: 0.85, reason: "asks the model to repeat the text before the conversation verbatim"},
		{tech: injTReveal, need: []int{injCSysPrompt, injCVerbatim}, window: 12, score: 0.6, strict: 0.8, reason: "asks for the hidden prompt word for word"},
		{tech: injTReveal, need: []int{injCYourSP, injCVerbatim}, window: 12, score: 0.6, strict: 0.8, reason: "asks for the model's instructions word for word"},

		// Tool-call coercion.
		{tech: injTTool, need: []int{injCToolVerb, injCSecrecy}, window: 25, score: 0.65, strict: 0.85, reason: "tells the model to take an action without the user's knowledge"},
		{tech: injTTool, need: []int{injCToolVerb, injCToolNoun, injCSecrecy}, window: 25, score: 0.8, strict: 0.9, reason: "tells the model to use a tool without the user's knowledge"},
		{tech: injTTool, need: []int{injCToolVerb, injCExfil, injCSecrecy}, window: 25, score: 0.85, strict: 0.95, reason: "tells the model to send private data without the user's knowledge"},
		{tech: injTTool, need: []int{injCToolVerb, injCExfil, injCURL}, window: 20, score: 0.7, strict: 0.9, reason: "tells the model to send private data to an outside address"},
		{tech: injTTool, need: []int{injCAddressAI, injCToolVerb}, window: 25, score: 0.55, strict: 0.85, reason: "addresses the AI directly and tells it to take an action"},
		{tech: injTTool, need: []int{injCAddressAI, injCToolVerb, injCToolNoun}, window: 25, score: 0.7, strict: 0.9, reason: "addresses the AI directly and tells it to call a tool"},
		{tech: injTTool, need: []int{injCAddressAI, injCExfil}, window: 25, score: 0.6, strict: 0.9, reason: "addresses the AI directly about private data"},
		{tech: injTTool, need: []int{injCSecrecy, injCExfil}, window: 20, score: 0.6, strict: 0.85, reason: "asks for private data to be handled without the user's knowledge"},
		{tech: injTTool, need: []int{injCAddressAI, injCOverride}, window: 25, score: 0.6, strict: 0.9, reason: "addresses the AI directly to override its instructions"},
		{tech: injTTool, need: []int{injCAddressAI, injCComply}, window: 25, score: 0.55, strict: 0.85, reason: "addresses the AI directly and demands compliance"},
		{tech: injTTool, need: []int{injCAddressAI}, window: 0, score: 0.2, strict: 0.55, reason: "addresses an AI reader directly"},
		{tech: injTTool, need: []int{injCToolVerb, injCToolNoun}, window: 6, score: 0.1, strict: 0.45, reason: "tells the model to call a tool"},

		// Payload splitting.
		{tech: injTSplit, need: []int{injCSplit, injCExec}, window: 25, score: 0.7, strict: 0.8, reason: "asks the model to assemble fragments and act on the result"},
		{tech: injTSplit, need: []int{injCSplitVar, injCExec}, window: 30, score: 0.75, strict: 0.85, reason: "asks the model to join string variables and act on the result"},
		{tech: injTSplit, need: []int{injCSplit, injCOverride}, window: 25, score: 0.6, strict: 0.8, reason: "splits an override instruction into fragments"},
		{tech: injTSplit, need: []int{injCSplitVar, injCOverride}, window: 25, score: 0.65, strict: 0.8, reason: "splits an override instruction across variables"},
		{tech: injTSplit, need: []int{injCSplitVar, injCSysPrompt}, window: 25, score: 0.65, strict: 0.8, reason: "splits a request for the hidden prompt across variables"},
		{tech: injTSplit, need: []int{injCSplit, injCNewInstr}, window: 25, score: 0.65, strict: 0.8, reason: "builds a new instruction from fragments"},

		// Encoded payloads announced as instructions.
		{tech: injTEncoded, need: []int{injCDecode, injCExec}, window: 10, score: 0.6, strict: 0.8, reason: "asks the model to decode a hidden message and act on it"},
	}
}
